<?xml version="1.0" encoding="utf-8"?>
<!DOCTYPE TS>
<TS version="2.1" language="fr" sourcelanguage="en">
<context>
    <name>BandwidthLimitBox</name>
    <message>
        <source>Bandwidth limit</source>
        <translation>Limite de débit</translation>
    </message>
    <message>
        <source>Highest speed for downloads and for uploads, each</source>
        <translation>Débit maximal, pour les téléchargements comme pour les envois</translation>
    </message>
    <message>
        <source>Custom…</source>
        <translation>Personnalisé…</translation>
    </message>
    <message>
        <source>Unlimited</source>
        <translation>Illimité</translation>
    </message>
    <message>
        <source>Highest speed, e.g. 3M (megabits per second) or 400 KB/s:</source>
        <translation>Débit maximal, par ex. 3M (mégabits par seconde) ou 400 Ko/s&#xa0;:</translation>
    </message>
    <message>
        <source>“{text}” is not a speed; write e.g. 3M or 400 KB/s.</source>
        <translation>«&#x202f;{text}&#x202f;» n’est pas un débit&#x202f;; écrivez par ex. 3M ou 400 Ko/s.</translation>
    </message>
</context>
<context>
    <name>Formats</name>
    <message>
        <source>{value} B</source>
        <translation>{value} o</translation>
    </message>
    <message>
        <source>{value} kB</source>
        <translation>{value} ko</translation>
    </message>
    <message>
        <source>{value} MB</source>
        <translation>{value} Mo</translation>
    </message>
    <message>
        <source>{value} GB</source>
        <translation>{value} Go</translation>
    </message>
    <message>
        <source>{value} TB</source>
        <translation>{value} To</translation>
    </message>
    <message>
        <source>{value} Gbit/s</source>
        <translation>{value} Gbit/s</translation>
    </message>
    <message>
        <source>{value} Mbit/s</source>
        <translation>{value} Mbit/s</translation>
    </message>
    <message>
        <source>{value} kbit/s</source>
        <translation>{value} kbit/s</translation>
    </message>
    <message>
        <source>{value} bit/s</source>
        <translation>{value} bit/s</translation>
    </message>
    <message>
        <source>{s} s</source>
        <translation>{s} s</translation>
    </message>
    <message>
        <source>{m} min {s} s</source>
        <translation>{m} min {s} s</translation>
    </message>
    <message>
        <source>{m} min</source>
        <translation>{m} min</translation>
    </message>
    <message>
        <source>{h} h {m} min</source>
        <translation>{h} h {m} min</translation>
    </message>
    <message>
        <source>{d} d {h} h</source>
        <translation>{d} j {h} h</translation>
    </message>
    <message>
        <source>{percent}%</source>
        <translation>{percent}&#x202f;%</translation>
    </message>
</context>
<context>
    <name>TransferActions</name>
    <message>
        <source>Pause</source>
        <translation>Pause</translation>
    </message>
    <message>
        <source>Pause the selected transfers</source>
        <translation>Mettre en pause les transferts sélectionnés</translation>
    </message>
    <message>
        <source>Resume</source>
        <translation>Reprendre</translation>
    </message>
    <message>
        <source>Resume the selected transfers</source>
        <translation>Reprendre les transferts sélectionnés</translation>
    </message>
    <message>
        <source>Retry now</source>
        <translation>Réessayer</translation>
    </message>
    <message>
        <source>Try the selected transfers again now, without waiting</source>
        <translation>Relancer tout de suite les transferts sélectionnés, sans attendre</translation>
    </message>
    <message>
        <source>Cancel</source>
        <translation>Annuler</translation>
    </message>
    <message>
        <source>Cancel the selected transfers (asks first)</source>
        <translation>Annuler les transferts sélectionnés (après confirmation)</translation>
    </message>
    <message>
        <source>Raise priority</source>
        <translation>Augmenter la priorité</translation>
    </message>
    <message>
        <source>Routine to urgent, urgent to flash</source>
        <translation>Routine devient urgent, urgent devient flash</translation>
    </message>
    <message>
        <source>Lower priority</source>
        <translation>Baisser la priorité</translation>
    </message>
    <message>
        <source>Flash to urgent, urgent to routine</source>
        <translation>Flash devient urgent, urgent devient routine</translation>
    </message>
    <message>
        <source>Pause all</source>
        <translation>Tout suspendre</translation>
    </message>
    <message>
        <source>Pause every transfer</source>
        <translation>Mettre en pause tous les transferts</translation>
    </message>
    <message>
        <source>Resume all</source>
        <translation>Tout reprendre</translation>
    </message>
    <message>
        <source>Resume every paused transfer</source>
        <translation>Reprendre tous les transferts en pause</translation>
    </message>
</context>
<context>
    <name>TransfersModel</name>
    <message>
        <source>{done} of {total}</source>
        <translation>{done} sur {total}</translation>
    </message>
    <message>
        <source>Name</source>
        <translation>Nom</translation>
    </message>
    <message>
        <source>Direction</source>
        <translation>Sens</translation>
    </message>
    <message>
        <source>Priority</source>
        <translation>Priorité</translation>
    </message>
    <message>
        <source>State</source>
        <translation>État</translation>
    </message>
    <message>
        <source>Progress</source>
        <translation>Progression</translation>
    </message>
    <message>
        <source>Speed</source>
        <translation>Débit</translation>
    </message>
    <message>
        <source>Time left</source>
        <translation>Temps restant</translation>
    </message>
    <message>
        <source>Size</source>
        <translation>Taille</translation>
    </message>
    <message>
        <source>Last error</source>
        <translation>Dernière erreur</translation>
    </message>
    <message>
        <source>Download</source>
        <translation>Téléchargement</translation>
    </message>
    <message>
        <source>Upload</source>
        <translation>Envoi</translation>
    </message>
    <message>
        <source>Flash</source>
        <translation>Flash</translation>
    </message>
    <message>
        <source>Urgent</source>
        <translation>Urgent</translation>
    </message>
    <message>
        <source>Routine</source>
        <translation>Routine</translation>
    </message>
    <message>
        <source>Queued</source>
        <translation>En attente</translation>
    </message>
    <message>
        <source>Transferring</source>
        <translation>En cours</translation>
    </message>
    <message>
        <source>Paused</source>
        <translation>En pause</translation>
    </message>
    <message>
        <source>Done</source>
        <translation>Terminé</translation>
    </message>
    <message>
        <source>Failed</source>
        <translation>Échec</translation>
    </message>
    <message>
        <source>Canceled</source>
        <translation>Annulé</translation>
    </message>
    <message>
        <source>Waiting to retry</source>
        <translation>Nouvel essai sous peu</translation>
    </message>
</context>
<context>
    <name>TransfersPanel</name>
    <message>
        <source>Transfer commands</source>
        <translation>Commandes des transferts</translation>
    </message>
    <message>
        <source>Transfers</source>
        <translation>Transferts</translation>
    </message>
    <message>
        <source>Downloads and uploads in queue order; drag rows to reorder them</source>
        <translation>Téléchargements et envois dans l’ordre de la file d’attente&#x202f;; faites glisser les lignes pour changer l’ordre</translation>
    </message>
    <message>
        <source>&amp;Show:</source>
        <translation>&amp;Afficher&#xa0;:</translation>
    </message>
    <message>
        <source>Show transfers</source>
        <translation>Transferts affichés</translation>
    </message>
    <message>
        <source>All</source>
        <translation>Tous</translation>
    </message>
    <message>
        <source>Active</source>
        <translation>En cours</translation>
    </message>
    <message>
        <source>Finished</source>
        <translation>Terminés</translation>
    </message>
    <message>
        <source>Failed</source>
        <translation>En échec</translation>
    </message>
    <message>
        <source>&amp;Limit:</source>
        <translation>&amp;Limite&#xa0;:</translation>
    </message>
    <message>
        <source>Could not read the queue: {error}</source>
        <translation>Impossible de lire la file d’attente&#xa0;: {error}</translation>
    </message>
    <message>
        <source>Could not pause: {error}</source>
        <translation>Impossible de mettre en pause&#xa0;: {error}</translation>
    </message>
    <message>
        <source>Could not resume: {error}</source>
        <translation>Impossible de reprendre&#xa0;: {error}</translation>
    </message>
    <message>
        <source>Could not retry: {error}</source>
        <translation>Impossible de relancer&#xa0;: {error}</translation>
    </message>
    <message>
        <source>Could not pause all transfers: {error}</source>
        <translation>Impossible de suspendre tous les transferts&#xa0;: {error}</translation>
    </message>
    <message>
        <source>Could not resume all transfers: {error}</source>
        <translation>Impossible de reprendre tous les transferts&#xa0;: {error}</translation>
    </message>
    <message>
        <source>Cancel transfers</source>
        <translation>Annuler des transferts</translation>
    </message>
    <message>
        <source>Cancel “{name}”?</source>
        <translation>Annuler «&#x202f;{name}&#x202f;»&#x202f;?</translation>
    </message>
    <message>
        <source>Cancel {count} transfers?</source>
        <translation>Annuler {count} transferts&#x202f;?</translation>
    </message>
    <message>
        <source>A canceled download loses the part already fetched.</source>
        <translation>Un téléchargement annulé perd la partie déjà reçue.</translation>
    </message>
    <message>
        <source>Cancel transfer</source>
        <translation>Annuler le transfert</translation>
    </message>
    <message>
        <source>Don’t cancel</source>
        <translation>Ne pas annuler</translation>
    </message>
    <message>
        <source>Could not cancel: {error}</source>
        <translation>Impossible d’annuler&#xa0;: {error}</translation>
    </message>
    <message>
        <source>Could not change the priority: {error}</source>
        <translation>Impossible de changer la priorité&#xa0;: {error}</translation>
    </message>
    <message>
        <source>Could not reorder the queue: {error}</source>
        <translation>Impossible de changer l’ordre de la file d’attente&#xa0;: {error}</translation>
    </message>
    <message>
        <source>Could not set the bandwidth limit: {error}</source>
        <translation>Impossible de régler la limite de débit&#xa0;: {error}</translation>
    </message>
</context>
</TS>
