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
        <source>The weekly schedule sets the limit at this hour; change it in Settings.</source>
        <translation>Le calendrier hebdomadaire fixe la limite à cette heure ; modifiez-le dans les Réglages.</translation>
    </message>
    <message>
        <source>Highest speed for downloads and for uploads, each</source>
        <translation>Débit maximal, pour les téléchargements comme pour les envois</translation>
    </message>
    <message>
        <source>↓ %1  ↑ %2</source>
        <translation>↓ %1  ↑ %2</translation>
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
        <source>“{text}” is not a speed; write e.g. {megabits} or {kilobytes}.</source>
        <translation>«&#x202f;{text}&#x202f;» n’est pas un débit&#x202f;; écrivez par ex. {megabits} ou {kilobytes}.</translation>
    </message>
</context>
<context>
    <name>ClockWarning</name>
    <message>
        <source>⚠ Clock %1 ahead</source>
        <translation>⚠ Horloge en avance de %1</translation>
    </message>
    <message>
        <source>This computer&apos;s clock is %1 ahead of the hub&apos;s: set it right in the system&apos;s date and time settings (turn on automatic date and time).</source>
        <translation>L’horloge de cet ordinateur avance de %1 sur celle du hub&#x202f;: remettez-la à l’heure dans les réglages de date et d’heure du système (activez la date et l’heure automatiques).</translation>
    </message>
    <message>
        <source>⚠ Clock %1 behind</source>
        <translation>⚠ Horloge en retard de %1</translation>
    </message>
    <message>
        <source>This computer&apos;s clock is %1 behind the hub&apos;s: set it right in the system&apos;s date and time settings (turn on automatic date and time).</source>
        <translation>L’horloge de cet ordinateur retarde de %1 sur celle du hub&#x202f;: remettez-la à l’heure dans les réglages de date et d’heure du système (activez la date et l’heure automatiques).</translation>
    </message>
    <message>
        <source>Meanwhile the Feed&apos;s ages and the History&apos;s times go by the hub&apos;s clock.</source>
        <translation>En attendant, l’âge des sujets du Fil et les heures de l’Historique suivent l’horloge du hub.</translation>
    </message>
</context>
<context>
    <name>ClockWords</name>
    <message numerus="yes">
        <source>%Ln minutes</source>
        <translation>
            <numerusform>%Ln minute</numerusform>
            <numerusform>%Ln minutes</numerusform>
        </translation>
    </message>
    <message numerus="yes">
        <source>%Ln hours</source>
        <translation>
            <numerusform>%Ln heure</numerusform>
            <numerusform>%Ln heures</numerusform>
        </translation>
    </message>
    <message numerus="yes">
        <source>%Ln days</source>
        <translation>
            <numerusform>%Ln jour</numerusform>
            <numerusform>%Ln jours</numerusform>
        </translation>
    </message>
</context>
<context>
    <name>Demo</name>
    <message>
        <source>ALU Desk demo</source>
        <translation>Démo d&apos;ALU Desk</translation>
    </message>
    <message>
        <source>Preparing the demo feed: making the video clips (only the first time)…</source>
        <translation>Préparation du fil de démonstration : création des séquences vidéo (la première fois seulement)…</translation>
    </message>
</context>
<context>
    <name>EngineMessage</name>
    <message>
        <source>The connection stalled; resuming.</source>
        <translation>La connexion s’est figée ; reprise en cours.</translation>
    </message>
    <message>
        <source>The connection to the server was cut; resuming.</source>
        <translation>La connexion au serveur a été coupée ; reprise en cours.</translation>
    </message>
    <message>
        <source>The server closed the connection before the end of the file; resuming.</source>
        <translation>Le serveur a fermé la connexion avant la fin du fichier ; reprise en cours.</translation>
    </message>
    <message>
        <source>The server could not be reached; trying again.</source>
        <translation>Le serveur est injoignable ; nouvel essai.</translation>
    </message>
    <message>
        <source>The server did not answer in time; trying again.</source>
        <translation>Le serveur n’a pas répondu à temps ; nouvel essai.</translation>
    </message>
    <message>
        <source>The downloaded file was damaged (checksum mismatch); downloading it again.</source>
        <translation>Le fichier téléchargé était endommagé (somme de contrôle différente) ; nouveau téléchargement.</translation>
    </message>
    <message>
        <source>The server&apos;s file is not the one expected: it arrived twice with the same different checksum, so it is not damage on the way. Nothing was kept; tell the agency.</source>
        <translation>Le fichier du serveur n’est pas celui attendu : il est arrivé deux fois avec la même somme de contrôle différente, ce n’est donc pas une avarie en route. Rien n’a été gardé ; prévenez l’agence.</translation>
    </message>
    <message>
        <source>The file changed on the server; downloading it again from the start.</source>
        <translation>Le fichier a changé sur le serveur ; nouveau téléchargement depuis le début.</translation>
    </message>
    <message>
        <source>The server cannot resume downloads; downloading the file again from the start.</source>
        <translation>Le serveur ne sait pas reprendre un téléchargement ; nouveau téléchargement depuis le début.</translation>
    </message>
    <message>
        <source>The server compressed the file; asking again.</source>
        <translation>Le serveur a compressé le fichier ; nouvelle demande.</translation>
    </message>
    <message>
        <source>The server keeps sending the file compressed, so it cannot be checked or resumed. Tell the agency.</source>
        <translation>Le serveur envoie toujours le fichier compressé : il ne peut être ni vérifié ni repris. Prévenez l’agence.</translation>
    </message>
    <message>
        <source>The server sent more data than the file&apos;s size.</source>
        <translation>Le serveur a envoyé plus de données que la taille du fichier.</translation>
    </message>
    <message>
        <source>The server sent the wrong part of the file; asking again.</source>
        <translation>Le serveur a envoyé la mauvaise partie du fichier ; nouvelle demande.</translation>
    </message>
    <message>
        <source>The disk is full; the download will continue when space is freed.</source>
        <translation>Le disque est plein ; le téléchargement reprendra quand de la place sera libérée.</translation>
    </message>
    <message>
        <source>The download address is not valid.</source>
        <translation>L’adresse de téléchargement n’est pas valide.</translation>
    </message>
    <message>
        <source>The file kept changing on the server while it was downloading; trying again later.</source>
        <translation>Le fichier n’a cessé de changer sur le serveur pendant le téléchargement ; nouvel essai plus tard.</translation>
    </message>
    <message>
        <source>The secure connection to the server failed; trying again.</source>
        <translation>La connexion sécurisée au serveur a échoué ; nouvel essai.</translation>
    </message>
    <message>
        <source>The server redirected the download too many times.</source>
        <translation>Le serveur a redirigé le téléchargement trop de fois.</translation>
    </message>
    <message>
        <source>The server sent the download elsewhere without saying where.</source>
        <translation>Le serveur a redirigé le téléchargement sans dire vers où.</translation>
    </message>
    <message>
        <source>The storage the server sent the download to refused its link (expired?); asking the server for a new one.</source>
        <translation>Le stockage vers lequel le serveur a renvoyé le téléchargement a refusé son lien (expiré ?) ; demande d’un nouveau lien au serveur.</translation>
    </message>
    <message>
        <source>The server refused access (HTTP %1). Sign in again, or ask the agency whether your newsroom may download this item.</source>
        <translation>Le serveur a refusé l’accès (HTTP %1). Reconnectez-vous, ou demandez à l’agence si votre rédaction peut télécharger ce sujet.</translation>
    </message>
    <message>
        <source>The server could not send the file just now (HTTP %1); trying again.</source>
        <translation>Le serveur n’a pas pu envoyer le fichier pour l’instant (HTTP %1) ; nouvel essai.</translation>
    </message>
    <message>
        <source>The download folder cannot be written to (%1).</source>
        <translation>Impossible d’écrire dans le dossier de téléchargement (%1).</translation>
    </message>
    <message>
        <source>The file is too large for the download folder&apos;s disk (FAT32 and some USB disks hold files of at most 4 GB); choose a folder on another disk.</source>
        <translation>Le fichier est trop gros pour le disque du dossier de téléchargement (FAT32 et certains disques USB n’acceptent pas de fichiers de plus de 4 Go) ; choisissez un dossier sur un autre disque.</translation>
    </message>
    <message>
        <source>“%1” (%2) is larger than the whole disk that holds its folder (%3 in all): no freeing of space can make room for it; choose a folder on another disk.</source>
        <translation>«&#xa0;%1&#xa0;» (%2) est plus gros que tout le disque qui contient son dossier (%3 en tout)&#xa0;: libérer de la place n’y changera rien&#x202f;; choisissez un dossier sur un autre disque.</translation>
    </message>
    <message>
        <source>The disk is full: “%1” needs %2 more; the download will continue when that much space is freed.</source>
        <translation>Le disque est plein&#xa0;: il faut encore %2 pour «&#xa0;%1&#xa0;»&#x202f;; le téléchargement reprendra quand cette place sera libérée.</translation>
    </message>
    <message>
        <source>The file could not be written to the disk (%1); trying again.</source>
        <translation>Le fichier n’a pas pu être écrit sur le disque (%1) ; nouvel essai.</translation>
    </message>
    <message>
        <source>The server offers a shorter file than expected (%1 bytes instead of %2); trying again later.</source>
        <translation>Le serveur propose un fichier plus court que prévu (%1 octets au lieu de %2) ; nouvel essai plus tard.</translation>
    </message>
    <message>
        <source>A file named “%1” appeared there meanwhile; choose another name.</source>
        <translation>Un fichier nommé « %1 » est apparu entre-temps à cet endroit ; choisissez un autre nom.</translation>
    </message>
    <message>
        <source>A file named “%1” is already there; choose another name.</source>
        <translation>Un fichier nommé « %1 » existe déjà à cet endroit ; choisissez un autre nom.</translation>
    </message>
    <message>
        <source>A file named “%1” is already there and this download did not make it (another download to the same name, or another program); move it away or choose another name.</source>
        <translation>Un fichier nommé « %1 » est déjà là et ce téléchargement ne l’a pas créé (un autre téléchargement vers le même nom, ou un autre programme) ; déplacez-le ou choisissez un autre nom.</translation>
    </message>
    <message>
        <source>The file cannot be saved there (%1); choose another folder or name.</source>
        <translation>Le fichier ne peut pas être enregistré là (%1) ; choisissez un autre dossier ou un autre nom.</translation>
    </message>
    <message>
        <source>The server sent the download to another address, which asks for a sign-in; the credentials given are not sent to another server. Use that address directly, with its own credentials.</source>
        <translation>Le serveur a renvoyé le téléchargement vers une autre adresse, qui demande une connexion ; les identifiants donnés ne sont pas envoyés à un autre serveur. Utilisez directement cette adresse, avec ses propres identifiants.</translation>
    </message>
    <message>
        <source>The hub took none of the piece it was sent.</source>
        <translation>Le hub n’a rien gardé du morceau qui lui a été envoyé.</translation>
    </message>
    <message>
        <source>The hub could not join the parts yet; it will try again.</source>
        <translation>Le hub n’a pas encore pu assembler les parties ; il réessaiera.</translation>
    </message>
    <message>
        <source>This transfer&apos;s record in the library is damaged; cancel it and add the file again.</source>
        <translation>L’enregistrement de ce transfert dans la bibliothèque est endommagé ; annulez-le et ajoutez de nouveau le fichier.</translation>
    </message>
    <message>
        <source>The server asks for a sign-in, and none was sent to the address it gave for the upload; check the address and the credentials given.</source>
        <translation>Le serveur demande une connexion, et aucune n’a été envoyée à l’adresse qu’il a donnée pour l’envoi ; vérifiez l’adresse et les identifiants donnés.</translation>
    </message>
    <message>
        <source>Another connection is still writing to this upload at the hub; it will go on later.</source>
        <translation>Une autre connexion écrit encore dans cet envoi sur le hub ; il reprendra plus tard.</translation>
    </message>
    <message>
        <source>Pieces of the file kept arriving damaged at the hub; it will try again.</source>
        <translation>Des morceaux du fichier sont sans cesse arrivés endommagés au hub ; nouvel essai.</translation>
    </message>
    <message>
        <source>The connection to the hub dropped.</source>
        <translation>La connexion au hub a été perdue.</translation>
    </message>
    <message>
        <source>The link stalled.</source>
        <translation>La liaison s’est figée.</translation>
    </message>
    <message>
        <source>The hub and this computer disagreed on how much had arrived.</source>
        <translation>Le hub et cet ordinateur ne s’accordaient pas sur ce qui était arrivé.</translation>
    </message>
    <message>
        <source>The hub answered with a redirect, which an upload does not follow; check the hub&apos;s address.</source>
        <translation>Le hub a répondu par une redirection, qu’un envoi ne suit pas ; vérifiez l’adresse du hub.</translation>
    </message>
    <message>
        <source>The hub could not be reached; the upload will try again.</source>
        <translation>Le hub est injoignable ; l’envoi réessaiera.</translation>
    </message>
    <message>
        <source>The hub did not accept this sign-in; sign in again, then retry.</source>
        <translation>Le hub n’a pas accepté cette connexion ; reconnectez-vous, puis réessayez.</translation>
    </message>
    <message>
        <source>The hub did not say where the joined file is.</source>
        <translation>Le hub n’a pas indiqué où se trouve le fichier assemblé.</translation>
    </message>
    <message>
        <source>The hub did not say where to send the file; is it a tus server?</source>
        <translation>Le hub n’a pas indiqué où envoyer le fichier ; est-ce un serveur tus ?</translation>
    </message>
    <message>
        <source>The hub gave an address for the upload that cannot be used; tell whoever runs it.</source>
        <translation>Le hub a donné pour l’envoi une adresse inutilisable ; prévenez qui l’administre.</translation>
    </message>
    <message>
        <source>The server kept less of the file than it had confirmed; sending the rest.</source>
        <translation>Le serveur a gardé moins du fichier qu’il n’en avait confirmé ; envoi du reste.</translation>
    </message>
    <message>
        <source>The server joined the parts into a file shorter than this one; add the file again.</source>
        <translation>Le serveur a assemblé les parties en un fichier plus court que celui-ci ; ajoutez le fichier à nouveau.</translation>
    </message>
    <message>
        <source>The hub has no upload service at this address; check the hub&apos;s address.</source>
        <translation>Le hub n’a pas de service d’envoi à cette adresse ; vérifiez l’adresse du hub.</translation>
    </message>
    <message>
        <source>The hub lost the upload again; it will try later.</source>
        <translation>Le hub a de nouveau perdu l’envoi ; nouvel essai plus tard.</translation>
    </message>
    <message>
        <source>The hub no longer has this upload.</source>
        <translation>Le hub n’a plus cet envoi.</translation>
    </message>
    <message>
        <source>The hub&apos;s answer had an unexpected offset.</source>
        <translation>La réponse du hub indiquait une position inattendue.</translation>
    </message>
    <message>
        <source>The server gave an unexpected answer (HTTP %1); check the address, or tell whoever runs the server.</source>
        <translation>Le serveur a donné une réponse inattendue (HTTP %1) ; vérifiez l’adresse, ou prévenez qui gère le serveur.</translation>
    </message>
    <message>
        <source>The server is busy (HTTP 429); the download will try again later.</source>
        <translation>Le serveur est occupé (HTTP 429) ; le téléchargement réessaiera plus tard.</translation>
    </message>
    <message>
        <source>The link stopped working part-way through the file (it expired?); get a new link and download it again with that one: it goes on from where it stopped.</source>
        <translation>Le lien a cessé de fonctionner en cours de fichier (expiré ?) ; obtenez un nouveau lien et relancez le téléchargement avec celui-ci : il reprend là où il s’était arrêté.</translation>
    </message>
    <message>
        <source>The network asks for a sign-in (HTTP 511): open any web page in a browser on this computer and sign in to the network; the transfer goes on after.</source>
        <translation>Le réseau demande une connexion (HTTP 511) : ouvrez une page web dans un navigateur sur cet ordinateur et connectez-vous au réseau ; le transfert reprendra ensuite.</translation>
    </message>
    <message>
        <source>Another download is writing “%1” right now (from another ALU Desk or data folder); this one waits and tries again.</source>
        <translation>Un autre téléchargement écrit «&#xa0;%1&#xa0;» en ce moment (depuis un autre ALU Desk ou un autre dossier de données)&#x202f;; celui-ci attend et réessaie.</translation>
    </message>
    <message>
        <source>The hub&apos;s answer had no usable offset.</source>
        <translation>La réponse du hub n’indiquait aucune position utilisable.</translation>
    </message>
    <message>
        <source>The hub stopped waiting for the upload&apos;s bytes (HTTP 408); the upload goes on from what it received.</source>
        <translation>Le hub a cessé d’attendre les octets de l’envoi (HTTP 408) ; l’envoi reprend à partir de ce qu’il a reçu.</translation>
    </message>
    <message>
        <source>The network does not pass PATCH; the chunk goes again as POST.</source>
        <translation>Le réseau ne laisse pas passer PATCH ; le morceau repart en POST.</translation>
    </message>
    <message>
        <source>The server at this address does not take uploads (HTTP 501); check the address.</source>
        <translation>Le serveur à cette adresse n’accepte pas d’envois (HTTP 501) ; vérifiez l’adresse.</translation>
    </message>
    <message>
        <source>The server does not speak the upload protocol version this app uses (tus 1.0).</source>
        <translation>Le serveur ne parle pas la version du protocole d’envoi qu’utilise cette application (tus 1.0).</translation>
    </message>
    <message>
        <source>The file changed during the upload; its content is checked before the upload goes on.</source>
        <translation>Le fichier a changé pendant l’envoi ; son contenu est vérifié avant que l’envoi continue.</translation>
    </message>
    <message>
        <source>The hub sent a malformed item.</source>
        <translation>Le hub a envoyé un sujet mal formé.</translation>
    </message>
    <message>
        <source>The hub sent a malformed item (field %1).</source>
        <translation>Le hub a envoyé un sujet mal formé (champ %1).</translation>
    </message>
    <message>
        <source>The hub sent a malformed member.</source>
        <translation>Le hub a envoyé une fiche de membre mal formée.</translation>
    </message>
    <message>
        <source>The hub sent a malformed member (field %1).</source>
        <translation>Le hub a envoyé une fiche de membre mal formée (champ %1).</translation>
    </message>
    <message>
        <source>The hub sent a malformed rendition.</source>
        <translation>Le hub a envoyé une description de fichier mal formée.</translation>
    </message>
    <message>
        <source>The hub sent a malformed rendition (field %1).</source>
        <translation>Le hub a envoyé une description de fichier mal formée (champ %1).</translation>
    </message>
    <message>
        <source>The hub sent a malformed feed page.</source>
        <translation>Le hub a envoyé une page du fil mal formée.</translation>
    </message>
    <message>
        <source>The hub sent a malformed feed page (field %1).</source>
        <translation>Le hub a envoyé une page du fil mal formée (champ %1).</translation>
    </message>
    <message>
        <source>The hub sent a malformed history page.</source>
        <translation>Le hub a envoyé une page d’historique mal formée.</translation>
    </message>
    <message>
        <source>The hub sent a malformed history page (field %1).</source>
        <translation>Le hub a envoyé une page d’historique mal formée (champ %1).</translation>
    </message>
    <message>
        <source>The hub sent a malformed history event.</source>
        <translation>Le hub a envoyé un événement d’historique mal formé.</translation>
    </message>
    <message>
        <source>The hub sent a malformed history event (field %1).</source>
        <translation>Le hub a envoyé un événement d’historique mal formé (champ %1).</translation>
    </message>
    <message>
        <source>The hub sent a malformed sign-in answer.</source>
        <translation>Le hub a envoyé une réponse de connexion mal formée.</translation>
    </message>
    <message>
        <source>The hub sent a malformed sign-in answer (field %1).</source>
        <translation>Le hub a envoyé une réponse de connexion mal formée (champ %1).</translation>
    </message>
    <message>
        <source>The hub sent a malformed %1.</source>
        <translation>Le hub a envoyé une réponse mal formée (%1).</translation>
    </message>
    <message>
        <source>The hub sent a malformed %1 (field %2).</source>
        <translation>Le hub a envoyé une réponse mal formée (%1, champ %2).</translation>
    </message>
    <message>
        <source>The file changed since the upload started; add it again.</source>
        <translation>Le fichier a changé depuis le début de l’envoi ; ajoutez-le de nouveau.</translation>
    </message>
    <message>
        <source>The server sent an answer that is not valid HTTP: two different lengths (Content-Length) for one answer. It is not tried again; tell whoever runs the server.</source>
        <translation>Le serveur a envoyé une réponse qui n’est pas du HTTP valide : deux longueurs différentes (Content-Length) pour une même réponse. Elle n’est pas redemandée ; prévenez qui gère le serveur.</translation>
    </message>
    <message>
        <source>The server has no file at this address (HTTP %1): it was removed, or the address is wrong.</source>
        <translation>Le serveur n’a aucun fichier à cette adresse (HTTP %1) : il a été supprimé, ou l’adresse est erronée.</translation>
    </message>
    <message>
        <source>The server sent the download to an address that is not valid.</source>
        <translation>Le serveur a renvoyé le téléchargement vers une adresse qui n’est pas valide.</translation>
    </message>
    <message>
        <source>The agency withdrew this item: %1</source>
        <translation>L’agence a retiré ce sujet : %1</translation>
    </message>
    <message>
        <source>The file is downloaded and checked, but another program (an antivirus, OneDrive, the search indexer?) keeps it open; it is put in place at the next try.</source>
        <translation>Le fichier est téléchargé et vérifié, mais un autre programme (un antivirus, OneDrive, l’indexeur de recherche ?) le garde ouvert ; il sera mis en place au prochain essai.</translation>
    </message>
    <message>
        <source>Another download left “%1” unfinished; this one saves the file as “%2”.</source>
        <translation>Un autre téléchargement a laissé «&#xa0;%1&#xa0;» inachevé&#x202f;; celui-ci enregistre le fichier sous «&#xa0;%2&#xa0;».</translation>
    </message>
    <message>
        <source>The download folder&apos;s path is too long for Windows: choose a shorter folder.</source>
        <translation>Le chemin du dossier de téléchargement est trop long pour Windows : choisissez un dossier plus court.</translation>
    </message>
    <message>
        <source>The file&apos;s path is too long for Windows (more than 259 characters with its folder): choose a shorter folder or name.</source>
        <translation>Le chemin du fichier est trop long pour Windows (plus de 259 caractères avec son dossier) : choisissez un dossier ou un nom plus court.</translation>
    </message>
    <message>
        <source>The upload address is not valid.</source>
        <translation>L’adresse d’envoi n’est pas valide.</translation>
    </message>
    <message>
        <source>The download folder %1 is not there (a drive unplugged, or a network share away); plug it in, or choose another folder in Settings.</source>
        <translation>Le dossier de téléchargement %1 est introuvable (disque débranché ou partage réseau absent) ; rebranchez-le, ou choisissez un autre dossier dans les Réglages.</translation>
    </message>
    <message>
        <source>The hub had lost the partial upload; it started again from the beginning.</source>
        <translation>Le hub avait perdu l’envoi partiel ; il a recommencé depuis le début.</translation>
    </message>
    <message>
        <source>The partial upload had expired at the hub; it started again from the beginning.</source>
        <translation>L’envoi partiel avait expiré sur le hub ; il a recommencé depuis le début.</translation>
    </message>
    <message>
        <source>This item was on the agency&apos;s previous hub at this address; the new hub there does not have it. Nothing was deleted here: download the item again from the feed if the new hub has it.</source>
        <translation>Ce sujet était sur l’ancien hub de l’agence à cette adresse ; le nouveau hub ne l’a pas. Rien n’a été supprimé ici : téléchargez le sujet à nouveau depuis le fil si le nouveau hub l’a.</translation>
    </message>
    <message>
        <source>The agency&apos;s hub at this address was replaced by a new one; the upload starts again from the beginning on the new hub.</source>
        <translation>Le hub de l’agence à cette adresse a été remplacé par un nouveau ; l’envoi reprend depuis le début sur le nouveau hub.</translation>
    </message>
    <message>
        <source>The connection dropped just as the hub was joining the parts of the file, and this computer could not learn what became of it; check the feed before adding the file again.</source>
        <translation>La connexion a été perdue au moment où le hub assemblait les parties du fichier, et cet ordinateur n’a pas pu savoir ce qu’il en est advenu ; consultez le fil avant d’ajouter le fichier de nouveau.</translation>
    </message>
    <message>
        <source>The hub received %1 but could not publish it: %2</source>
        <translation>Le hub a reçu %1 mais n’a pas pu le publier : %2</translation>
    </message>
    <message>
        <source>The file is %1, larger than the %2 the hub accepts.</source>
        <translation>Le fichier fait %1, plus que les %2 qu’accepte le hub.</translation>
    </message>
    <message>
        <source>The hub does not accept a file this large (%1).</source>
        <translation>Le hub n’accepte pas un fichier aussi gros (%1).</translation>
    </message>
    <message>
        <source>The hub does not accept the item&apos;s texts: the script, shot list and restrictions are too long together. Shorten them and upload the file again.</source>
        <translation>Le hub n’accepte pas les textes du sujet : le script, la liste des plans et les restrictions sont trop longs ensemble. Raccourcissez-les, puis envoyez de nouveau le fichier.</translation>
    </message>
    <message>
        <source>The hub refused the upload for this account: %1</source>
        <translation>Le hub a refusé l’envoi pour ce compte : %1</translation>
    </message>
    <message>
        <source>The hub refused the upload: %1</source>
        <translation>Le hub a refusé l’envoi : %1</translation>
    </message>
    <message>
        <source>This file is already on the network: it is the agency&apos;s “%1” (published %2). It was not published again.</source>
        <translation>Ce fichier est déjà sur le réseau : c’est « %1 » de l’agence (publié le %2). Il n’a pas été publié de nouveau.</translation>
    </message>
    <message>
        <source>This file is already on the network: it is “%1”, sent by %2 (published %3). It was not published again.</source>
        <translation>Ce fichier est déjà sur le réseau : c’est « %1 », envoyé par %2 (publié le %3). Il n’a pas été publié de nouveau.</translation>
    </message>
    <message>
        <source>The hub is busy or had a problem (HTTP %1); the upload will go on later.</source>
        <translation>Le hub est occupé ou a eu un problème (HTTP %1) ; l’envoi continuera plus tard.</translation>
    </message>
    <message>
        <source>The hub&apos;s disk is full; the upload will go on once the agency has made room.</source>
        <translation>Le disque du hub est plein ; l’envoi continuera quand l’agence aura libéré de la place.</translation>
    </message>
    <message>
        <source>The hub is busy or unavailable (HTTP %1); it will try again.</source>
        <translation>Le hub est occupé ou indisponible (HTTP %1) ; nouvel essai.</translation>
    </message>
    <message>
        <source>The upload detail %1 has a name a hub cannot take.</source>
        <translation>Le détail d’envoi %1 porte un nom qu’un hub ne peut pas accepter.</translation>
    </message>
    <message>
        <source>The hub refuses even pieces of %1; it cannot take this upload.</source>
        <translation>Le hub refuse même des morceaux de %1 ; il ne peut pas accepter cet envoi.</translation>
    </message>
    <message>
        <source>The file %1 is no longer there (moved or deleted); it cannot be uploaded.</source>
        <translation>Le fichier %1 n’est plus là (déplacé ou supprimé) ; il ne peut pas être envoyé.</translation>
    </message>
    <message>
        <source>The file %1 cannot be read (permission denied); it cannot be uploaded.</source>
        <translation>Le fichier %1 ne peut pas être lu (accès refusé)&#x202f;; il ne peut pas être envoyé.</translation>
    </message>
    <message>
        <source>The file %1 cannot be reached now (its folder or drive is away: a network share?); the upload goes on when it is back.</source>
        <translation>Le fichier %1 est injoignable pour l’instant (son dossier ou son disque est absent&#x202f;: un partage réseau&#x202f;?)&#x202f;; l’envoi reprendra à son retour.</translation>
    </message>
    <message>
        <source>The file %1 is in use by another program (still being exported or copied?); the upload goes on when it is free.</source>
        <translation>Le fichier %1 est utilisé par un autre programme (encore en cours d’export ou de copie ?) ; l’envoi reprendra dès qu’il sera libre.</translation>
    </message>
    <message>
        <source>The file %1 was replaced by a link (a shortcut to a file elsewhere) after it was taken from the hot folder: links are not followed, so it was not uploaded. Put the file itself in the folder.</source>
        <translation>Le fichier %1 a été remplacé par un lien (un raccourci vers un fichier situé ailleurs) après avoir été pris dans le dossier surveillé : les liens ne sont pas suivis, il n’a donc pas été envoyé. Placez le fichier lui-même dans le dossier.</translation>
    </message>
    <message>
        <source>The server&apos;s security certificate was refused (is the computer&apos;s date right, or is a network login page in the way? A network with its own certificate authority needs its CA bundle in the hub&apos;s profile).</source>
        <translation>Le certificat de sécurité du serveur a été refusé (la date de l’ordinateur est-elle juste, ou une page de connexion au réseau est-elle en travers ? Un réseau avec sa propre autorité de certification a besoin de son paquet de certificats dans le profil du hub).</translation>
    </message>
    <message>
        <source>The server&apos;s answer has more header lines than this app reads (over 100, or one over 256 KiB), so it cannot be used; tell whoever runs the server.</source>
        <translation>La réponse du serveur a plus de lignes d’en-tête que cette application n’en lit (plus de 100, ou une de plus de 256 Kio) : elle est inutilisable ; prévenez qui gère le serveur.</translation>
    </message>
    <message>
        <source>Cancelled.</source>
        <translation>Annulé.</translation>
    </message>
    <message>
        <source>Paused.</source>
        <translation>En pause.</translation>
    </message>
    <message>
        <source>The disk is full. The transfer resumes when there is space again.</source>
        <translation>Le disque est plein. Le transfert reprendra quand il y aura de nouveau de la place.</translation>
    </message>
    <message>
        <source>The disk that holds ALU Desk&apos;s data folder is full; the transfer goes on when there is space there again.</source>
        <translation>Le disque qui contient le dossier de données d’ALU Desk est plein ; le transfert reprend dès qu’il y a de nouveau de la place.</translation>
    </message>
    <message>
        <source>ALU Desk&apos;s library cannot be written; the transfer goes on when it can be written again.</source>
        <translation>La médiathèque d’ALU Desk ne peut pas être écrite ; le transfert reprend dès qu’elle pourra l’être de nouveau.</translation>
    </message>
    <message>
        <source>The disk that holds ALU Desk&apos;s data folder is full; the history is synced when there is space there again.</source>
        <translation>Le disque qui contient le dossier de données d’ALU Desk est plein ; l’historique sera synchronisé dès qu’il y aura de nouveau de la place.</translation>
    </message>
    <message>
        <source>The hub&apos;s security certificate could not be checked (is the computer&apos;s date right, or is a network login page in the way?); the transfer will be tried again.</source>
        <translation>Le certificat de sécurité du hub n’a pas pu être vérifié (la date de l’ordinateur est-elle juste, une page de connexion du réseau s’interpose-t-elle ?) ; le transfert sera réessayé.</translation>
    </message>
    <message>
        <source>The hub&apos;s security certificate could not be checked (is the computer&apos;s date right, or is a network login page in the way?); the transfer has stopped; you can try it again from the list.</source>
        <translation>Le certificat de sécurité du hub n’a pas pu être vérifié (la date de l’ordinateur est-elle juste, une page de connexion du réseau s’interpose-t-elle ?) ; le transfert s’est arrêté ; vous pouvez le relancer depuis la liste.</translation>
    </message>
    <message>
        <source>The hub did not answer in time; the transfer will be tried again.</source>
        <translation>Le hub n’a pas répondu à temps ; le transfert sera réessayé.</translation>
    </message>
    <message>
        <source>The hub did not answer in time; the transfer has stopped; you can try it again from the list.</source>
        <translation>Le hub n’a pas répondu à temps ; le transfert s’est arrêté ; vous pouvez le relancer depuis la liste.</translation>
    </message>
    <message>
        <source>The connection to the hub was lost; the transfer will be tried again.</source>
        <translation>La connexion au hub a été perdue ; le transfert sera réessayé.</translation>
    </message>
    <message>
        <source>The connection to the hub was lost; the transfer has stopped; you can try it again from the list.</source>
        <translation>La connexion au hub a été perdue ; le transfert s’est arrêté ; vous pouvez le relancer depuis la liste.</translation>
    </message>
    <message>
        <source>The hub answered with an error (%1); the transfer will be tried again.</source>
        <translation>Le hub a répondu par une erreur (%1) ; le transfert sera réessayé.</translation>
    </message>
    <message>
        <source>The hub answered with an error (%1); the transfer has stopped; you can try it again from the list.</source>
        <translation>Le hub a répondu par une erreur (%1) ; le transfert s’est arrêté ; vous pouvez le relancer depuis la liste.</translation>
    </message>
    <message>
        <source>Something went wrong in ALU Desk (%1); the transfer will be tried again.</source>
        <translation>Un problème est survenu dans ALU Desk (%1) ; le transfert sera réessayé.</translation>
    </message>
    <message>
        <source>Something went wrong in ALU Desk (%1); the transfer has stopped; you can try it again from the list.</source>
        <translation>Un problème est survenu dans ALU Desk (%1) ; le transfert s’est arrêté ; vous pouvez le relancer depuis la liste.</translation>
    </message>
    <message>
        <source>The network&apos;s proxy (%1) wants a user name and password (HTTP 407) to reach %2. Give them with the profile&apos;s proxy (in the app&apos;s settings, or alu login --proxy http://user:password@proxy:3128; kept in the keyring) or in the system&apos;s proxy setting, or ask the network&apos;s administrator to let this computer through without one.</source>
        <translation>Le proxy du réseau (%1) demande un nom d’utilisateur et un mot de passe (HTTP 407) pour atteindre %2. Indiquez-les avec le proxy du profil (dans les réglages de l’application, ou alu login --proxy http://user:password@proxy:3128 ; gardés dans le trousseau) ou dans le réglage de proxy du système, ou demandez à l’administrateur du réseau de laisser passer cet ordinateur sans.</translation>
    </message>
    <message>
        <source>The network&apos;s proxy wants a user name and password (HTTP 407) to reach %1. Give them with the profile&apos;s proxy (in the app&apos;s settings, or alu login --proxy http://user:password@proxy:3128; kept in the keyring) or in the system&apos;s proxy setting, or ask the network&apos;s administrator to let this computer through without one.</source>
        <translation>Le proxy du réseau demande un nom d’utilisateur et un mot de passe (HTTP 407) pour atteindre %1. Indiquez-les avec le proxy du profil (dans les réglages de l’application, ou alu login --proxy http://user:password@proxy:3128 ; gardés dans le trousseau) ou dans le réglage de proxy du système, ou demandez à l’administrateur du réseau de laisser passer cet ordinateur sans.</translation>
    </message>
    <message>
        <source>The network&apos;s proxy (%1) did not accept the user name and password given for it (HTTP 407) to reach %2. Check them where they were given (the profile&apos;s proxy, in the app&apos;s settings or with alu login --proxy, or the system&apos;s proxy setting such as HTTPS_PROXY), or ask the network&apos;s administrator.</source>
        <translation>Le proxy du réseau (%1) n’a pas accepté le nom d’utilisateur et le mot de passe indiqués pour lui (HTTP 407) pour atteindre %2. Vérifiez-les là où ils ont été indiqués (le proxy du profil, dans les réglages de l’application ou avec alu login --proxy, ou le réglage de proxy du système, comme HTTPS_PROXY), ou demandez à l’administrateur du réseau.</translation>
    </message>
    <message>
        <source>The network&apos;s proxy did not accept the user name and password given for it (HTTP 407) to reach %1. Check them where they were given (the profile&apos;s proxy, in the app&apos;s settings or with alu login --proxy, or the system&apos;s proxy setting such as HTTPS_PROXY), or ask the network&apos;s administrator.</source>
        <translation>Le proxy du réseau n’a pas accepté le nom d’utilisateur et le mot de passe indiqués pour lui (HTTP 407) pour atteindre %1. Vérifiez-les là où ils ont été indiqués (le proxy du profil, dans les réglages de l’application ou avec alu login --proxy, ou le réglage de proxy du système, comme HTTPS_PROXY), ou demandez à l’administrateur du réseau.</translation>
    </message>
    <message>
        <source>The network&apos;s proxy (%1) could not reach %2 (HTTP %3); trying again later.</source>
        <translation>Le proxy du réseau (%1) n’a pas pu atteindre %2 (HTTP %3) ; nouvel essai plus tard.</translation>
    </message>
    <message>
        <source>The network&apos;s proxy could not reach %1 (HTTP %2); trying again later.</source>
        <translation>Le proxy du réseau n’a pas pu atteindre %1 (HTTP %2) ; nouvel essai plus tard.</translation>
    </message>
    <message>
        <source>The network&apos;s proxy (%1) refused to pass the request to %2 (HTTP %3); check the proxy settings, or ask the network&apos;s administrator to let this computer reach it.</source>
        <translation>Le proxy du réseau (%1) a refusé de transmettre la demande à %2 (HTTP %3) ; vérifiez les réglages du proxy, ou demandez à l’administrateur du réseau de laisser cet ordinateur l’atteindre.</translation>
    </message>
    <message>
        <source>The network&apos;s proxy refused to pass the request to %1 (HTTP %2); check the proxy settings, or ask the network&apos;s administrator to let this computer reach it.</source>
        <translation>Le proxy du réseau a refusé de transmettre la demande à %1 (HTTP %2) ; vérifiez les réglages du proxy, ou demandez à l’administrateur du réseau de laisser cet ordinateur l’atteindre.</translation>
    </message>
    <message>
        <source>The server&apos;s security certificate was refused (%1). Is the computer&apos;s date right, or is a network login page in the way? A network with its own certificate authority needs its CA bundle: in the profile (the app&apos;s sign-in, alu login --ca-bundle), or in REQUESTS_CA_BUNDLE or SSL_CERT_FILE for alu fetch and alu tus-put.</source>
        <translation>Le certificat de sécurité du serveur a été refusé (%1). La date de l’ordinateur est-elle juste, ou une page de connexion au réseau est-elle en travers ? Un réseau avec sa propre autorité de certification a besoin de son paquet de certificats : dans le profil (la connexion de l’application, alu login --ca-bundle), ou dans REQUESTS_CA_BUNDLE ou SSL_CERT_FILE pour alu fetch et alu tus-put.</translation>
    </message>
    <message>
        <source>The server did not answer in TLS (https) at this address: is its port one for plain http, or is a network login page in the way?</source>
        <translation>Le serveur n’a pas répondu en TLS (https) à cette adresse : son port est-il celui du http simple, ou une page de connexion au réseau est-elle en travers ?</translation>
    </message>
    <message>
        <source>The server answered with something that is not HTTP: check the address (is its port one for another service?).</source>
        <translation>Le serveur a répondu par autre chose que du HTTP : vérifiez l’adresse (son port est-il celui d’un autre service ?).</translation>
    </message>
    <message>
        <source>The network&apos;s proxy (%1) cannot be reached; check the proxy settings.</source>
        <translation>Le proxy du réseau (%1) est injoignable ; vérifiez les réglages du proxy.</translation>
    </message>
    <message>
        <source>The network&apos;s proxy cannot be reached; check the proxy settings.</source>
        <translation>Le proxy du réseau est injoignable ; vérifiez les réglages du proxy.</translation>
    </message>
    <message>
        <source>The security certificate of the network&apos;s proxy (%1) was refused (%2), so the server was not reached. Is the computer&apos;s date right? The proxy&apos;s certificate authority must be trusted: add it to the system&apos;s certificate store, or give a CA bundle that holds it and the server&apos;s authority (a bundle given is the only one trusted): in the profile (the app&apos;s sign-in, alu login --ca-bundle), or in REQUESTS_CA_BUNDLE or SSL_CERT_FILE for alu fetch and alu tus-put.</source>
        <translation>Le certificat de sécurité du proxy du réseau (%1) a été refusé (%2) : le serveur n’a donc pas été joint. L’ordinateur est-il à la bonne date ? L’autorité de certification du proxy doit être reconnue : ajoutez-la au magasin de certificats du système, ou indiquez un paquet de certificats (CA bundle) qui la contient avec celle du serveur (un paquet indiqué est le seul reconnu) : dans le profil (connexion de l’application, alu login --ca-bundle), ou dans REQUESTS_CA_BUNDLE ou SSL_CERT_FILE pour alu fetch et alu tus-put.</translation>
    </message>
    <message>
        <source>The security certificate of the network&apos;s proxy was refused (%1), so the server was not reached. Is the computer&apos;s date right? The proxy&apos;s certificate authority must be trusted: add it to the system&apos;s certificate store, or give a CA bundle that holds it and the server&apos;s authority (a bundle given is the only one trusted): in the profile (the app&apos;s sign-in, alu login --ca-bundle), or in REQUESTS_CA_BUNDLE or SSL_CERT_FILE for alu fetch and alu tus-put.</source>
        <translation>Le certificat de sécurité du proxy du réseau a été refusé (%1) : le serveur n’a donc pas été joint. L’ordinateur est-il à la bonne date ? L’autorité de certification du proxy doit être reconnue : ajoutez-la au magasin de certificats du système, ou indiquez un paquet de certificats (CA bundle) qui la contient avec celle du serveur (un paquet indiqué est le seul reconnu) : dans le profil (connexion de l’application, alu login --ca-bundle), ou dans REQUESTS_CA_BUNDLE ou SSL_CERT_FILE pour alu fetch et alu tus-put.</translation>
    </message>
    <message>
        <source>The server&apos;s file is not the one expected: it arrived twice with the same different checksum, so it is not damage on the way. Nothing was kept; check the checksum you gave, or tell whoever runs the server.</source>
        <translation>Le fichier du serveur n’est pas celui attendu : il est arrivé deux fois avec la même somme de contrôle différente, ce n’est donc pas une avarie en route. Rien n’a été gardé ; vérifiez la somme de contrôle indiquée, ou prévenez qui gère le serveur.</translation>
    </message>
    <message>
        <source>The server keeps sending the file compressed, so it cannot be checked or resumed. Tell whoever runs the server.</source>
        <translation>Le serveur envoie toujours le fichier compressé : il ne peut être ni vérifié ni repris. Prévenez qui gère le serveur.</translation>
    </message>
    <message>
        <source>The server refused access (HTTP %1). Check the credentials given, or ask whoever runs the server.</source>
        <translation>Le serveur a refusé l’accès (HTTP %1). Vérifiez les identifiants indiqués, ou demandez à qui gère le serveur.</translation>
    </message>
    <message>
        <source>The server refused the upload (is the address one for tus uploads? Check it and the credentials given): %1</source>
        <translation>Le serveur a refusé l’envoi (l’adresse est-elle celle d’envois tus ? Vérifiez-la, ainsi que les identifiants donnés) : %1</translation>
    </message>
    <message>
        <source>The server took none of the piece it was sent.</source>
        <translation>Le serveur n’a rien gardé du morceau qui lui a été envoyé.</translation>
    </message>
    <message>
        <source>The server could not join the parts yet; it will try again.</source>
        <translation>Le serveur n’a pas encore pu assembler les parties ; il réessaiera.</translation>
    </message>
    <message>
        <source>Another connection is still writing to this upload at the server; it will go on later.</source>
        <translation>Une autre connexion écrit encore dans cet envoi sur le serveur ; il reprendra plus tard.</translation>
    </message>
    <message>
        <source>Pieces of the file kept arriving damaged at the server; it will try again.</source>
        <translation>Des morceaux du fichier sont sans cesse arrivés endommagés au serveur ; nouvel essai.</translation>
    </message>
    <message>
        <source>The connection to the server dropped.</source>
        <translation>La connexion au serveur a été perdue.</translation>
    </message>
    <message>
        <source>The server and this computer disagreed on how much had arrived.</source>
        <translation>Le serveur et cet ordinateur ne s’accordaient pas sur ce qui était arrivé.</translation>
    </message>
    <message>
        <source>The server answered with a redirect, which an upload does not follow; check the server&apos;s address.</source>
        <translation>Le serveur a répondu par une redirection, qu’un envoi ne suit pas ; vérifiez l’adresse du serveur.</translation>
    </message>
    <message>
        <source>The server could not be reached; the upload will try again.</source>
        <translation>Le serveur est injoignable ; l’envoi réessaiera.</translation>
    </message>
    <message>
        <source>The server did not accept this sign-in; sign in again, then retry.</source>
        <translation>Le serveur n’a pas accepté cette connexion ; reconnectez-vous, puis réessayez.</translation>
    </message>
    <message>
        <source>The server did not say where the joined file is.</source>
        <translation>Le serveur n’a pas indiqué où se trouve le fichier assemblé.</translation>
    </message>
    <message>
        <source>The server did not say where to send the file; is it a tus server?</source>
        <translation>Le serveur n’a pas indiqué où envoyer le fichier ; est-ce un serveur tus ?</translation>
    </message>
    <message>
        <source>The server gave an address for the upload that cannot be used; tell whoever runs it.</source>
        <translation>Le serveur a donné pour l’envoi une adresse inutilisable ; prévenez qui l’administre.</translation>
    </message>
    <message>
        <source>The server has no upload service at this address; check the server&apos;s address.</source>
        <translation>Le serveur n’a pas de service d’envoi à cette adresse ; vérifiez l’adresse du serveur.</translation>
    </message>
    <message>
        <source>The server lost the upload again; it will try later.</source>
        <translation>Le serveur a de nouveau perdu l’envoi ; nouvel essai plus tard.</translation>
    </message>
    <message>
        <source>The server no longer has this upload.</source>
        <translation>Le serveur n’a plus cet envoi.</translation>
    </message>
    <message>
        <source>The server&apos;s answer had an unexpected offset.</source>
        <translation>La réponse du serveur indiquait une position inattendue.</translation>
    </message>
    <message>
        <source>The server&apos;s answer had no usable offset.</source>
        <translation>La réponse du serveur n’indiquait aucune position utilisable.</translation>
    </message>
    <message>
        <source>The server stopped waiting for the upload&apos;s bytes (HTTP 408); the upload goes on from what it received.</source>
        <translation>Le serveur a cessé d’attendre les octets de l’envoi (HTTP 408) ; l’envoi reprend à partir de ce qu’il a reçu.</translation>
    </message>
    <message>
        <source>The server had lost the partial upload; it started again from the beginning.</source>
        <translation>Le serveur avait perdu l’envoi partiel ; il a recommencé depuis le début.</translation>
    </message>
    <message>
        <source>The partial upload had expired at the server; it started again from the beginning.</source>
        <translation>L’envoi partiel avait expiré sur le serveur ; il a recommencé depuis le début.</translation>
    </message>
    <message>
        <source>The connection dropped just as the server was joining the parts of the file, and this computer could not learn what became of it; check the feed before adding the file again.</source>
        <translation>La connexion a été perdue au moment où le serveur assemblait les parties du fichier, et cet ordinateur n’a pas pu savoir ce qu’il en est advenu ; consultez le fil avant d’ajouter le fichier de nouveau.</translation>
    </message>
    <message>
        <source>The server received %1 but could not publish it: %2</source>
        <translation>Le serveur a reçu %1 mais n’a pas pu le publier : %2</translation>
    </message>
    <message>
        <source>The file is %1, larger than the %2 the server accepts.</source>
        <translation>Le fichier fait %1, plus que les %2 qu’accepte le serveur.</translation>
    </message>
    <message>
        <source>The server does not accept a file this large (%1).</source>
        <translation>Le serveur n’accepte pas un fichier aussi gros (%1).</translation>
    </message>
    <message>
        <source>The server does not accept the item&apos;s texts: the script, shot list and restrictions are too long together. Shorten them and upload the file again.</source>
        <translation>Le serveur n’accepte pas les textes du sujet : le script, la liste des plans et les restrictions sont trop longs ensemble. Raccourcissez-les, puis envoyez de nouveau le fichier.</translation>
    </message>
    <message>
        <source>The server refused the upload for this account: %1</source>
        <translation>Le serveur a refusé l’envoi pour ce compte : %1</translation>
    </message>
    <message>
        <source>The server refused the upload: %1</source>
        <translation>Le serveur a refusé l’envoi : %1</translation>
    </message>
    <message>
        <source>The server is busy or had a problem (HTTP %1); the upload will go on later.</source>
        <translation>Le serveur est occupé ou a eu un problème (HTTP %1) ; l’envoi continuera plus tard.</translation>
    </message>
    <message>
        <source>The server&apos;s disk is full; the upload will go on once the server has room again.</source>
        <translation>Le disque du serveur est plein ; l’envoi continuera quand le serveur aura de nouveau de la place.</translation>
    </message>
    <message>
        <source>The server is busy or unavailable (HTTP %1); it will try again.</source>
        <translation>Le serveur est occupé ou indisponible (HTTP %1) ; nouvel essai.</translation>
    </message>
    <message>
        <source>The server refuses even pieces of %1; it cannot take this upload.</source>
        <translation>Le serveur refuse même des morceaux de %1 ; il ne peut pas accepter cet envoi.</translation>
    </message>
    <message>
        <source>The server&apos;s security certificate was refused (is the computer&apos;s date right, or is a network login page in the way? A network with its own certificate authority needs its CA bundle in the server&apos;s profile).</source>
        <translation>Le certificat de sécurité du serveur a été refusé (la date de l’ordinateur est-elle juste, ou une page de connexion au réseau est-elle en travers ? Un réseau avec sa propre autorité de certification a besoin de son paquet de certificats dans le profil du serveur).</translation>
    </message>
    <message>
        <source>The server&apos;s security certificate could not be checked (is the computer&apos;s date right, or is a network login page in the way?); the transfer will be tried again.</source>
        <translation>Le certificat de sécurité du serveur n’a pas pu être vérifié (la date de l’ordinateur est-elle juste, une page de connexion du réseau s’interpose-t-elle ?) ; le transfert sera réessayé.</translation>
    </message>
    <message>
        <source>The server&apos;s security certificate could not be checked (is the computer&apos;s date right, or is a network login page in the way?); the transfer has stopped; you can try it again from the list.</source>
        <translation>Le certificat de sécurité du serveur n’a pas pu être vérifié (la date de l’ordinateur est-elle juste, une page de connexion du réseau s’interpose-t-elle ?) ; le transfert s’est arrêté ; vous pouvez le relancer depuis la liste.</translation>
    </message>
    <message>
        <source>The server did not answer in time; the transfer will be tried again.</source>
        <translation>Le serveur n’a pas répondu à temps ; le transfert sera réessayé.</translation>
    </message>
    <message>
        <source>The server did not answer in time; the transfer has stopped; you can try it again from the list.</source>
        <translation>Le serveur n’a pas répondu à temps ; le transfert s’est arrêté ; vous pouvez le relancer depuis la liste.</translation>
    </message>
    <message>
        <source>The connection to the server was lost; the transfer will be tried again.</source>
        <translation>La connexion au serveur a été perdue ; le transfert sera réessayé.</translation>
    </message>
    <message>
        <source>The connection to the server was lost; the transfer has stopped; you can try it again from the list.</source>
        <translation>La connexion au serveur a été perdue ; le transfert s’est arrêté ; vous pouvez le relancer depuis la liste.</translation>
    </message>
    <message>
        <source>The server answered with an error (%1); the transfer will be tried again.</source>
        <translation>Le serveur a répondu par une erreur (%1) ; le transfert sera réessayé.</translation>
    </message>
    <message>
        <source>The server answered with an error (%1); the transfer has stopped; you can try it again from the list.</source>
        <translation>Le serveur a répondu par une erreur (%1) ; le transfert s’est arrêté ; vous pouvez le relancer depuis la liste.</translation>
    </message>
    <message>
        <source>Not in contact with the hub yet.</source>
        <translation>Pas encore en contact avec le hub.</translation>
    </message>
    <message>
        <source>Not signed in to this hub; sign in first.</source>
        <translation>Non connecté à ce hub&#x202f;; connectez-vous d’abord.</translation>
    </message>
    <message>
        <source>%1 is not a hub address; it looks like https://hub.example.org</source>
        <translation>%1 n’est pas une adresse de hub&#x202f;; elle ressemble à https://hub.example.org</translation>
    </message>
    <message>
        <source>%1 is plain HTTP: passwords and footage would cross the network unencrypted. Use the hub&apos;s https:// address, or allow plain HTTP for this hub in its profile if your administrator says so.</source>
        <translation>%1 est en HTTP simple&#xa0;: les mots de passe et les images traverseraient le réseau sans chiffrement. Utilisez l’adresse https:// du hub, ou autorisez le HTTP simple pour ce hub dans son profil si votre administrateur le permet.</translation>
    </message>
    <message>
        <source>The hub&apos;s certificate at %1 could not be verified (%2). If your network uses its own certificate authority, set its CA bundle in the hub&apos;s profile.</source>
        <translation>Le certificat du hub à l’adresse %1 n’a pas pu être vérifié (%2). Si votre réseau utilise sa propre autorité de certification, indiquez son paquet de certificats dans le profil du hub.</translation>
    </message>
    <message>
        <source>The server at %1 did not answer in TLS (https): is its port one for plain http, or is a network login page in the way? Check the hub address.</source>
        <translation>Le serveur à l’adresse %1 n’a pas répondu en TLS (https) : son port est-il celui du http simple, ou une page de connexion au réseau est-elle en travers ? Vérifiez l’adresse du hub.</translation>
    </message>
    <message>
        <source>The secure connection to the hub at %1 failed; check the network and the address.</source>
        <translation>La connexion sécurisée au hub à l’adresse %1 a échoué ; vérifiez le réseau et l’adresse.</translation>
    </message>
    <message>
        <source>The security certificate of the network&apos;s proxy (%1) could not be verified, so the hub at %2 was not reached. If your network uses its own certificate authority, add it to the system&apos;s certificate store, or set a CA bundle in the hub&apos;s profile that holds it and the hub&apos;s authority.</source>
        <translation>Le certificat de sécurité du proxy du réseau (%1) n’a pas pu être vérifié : le hub à l’adresse %2 n’a donc pas été joint. Si votre réseau a sa propre autorité de certification, ajoutez-la au magasin de certificats du système, ou indiquez dans le profil du hub un paquet de certificats (CA bundle) qui la contient avec celle du hub.</translation>
    </message>
    <message>
        <source>The security certificate of the network&apos;s proxy could not be verified, so the hub at %1 was not reached. If your network uses its own certificate authority, add it to the system&apos;s certificate store, or set a CA bundle in the hub&apos;s profile that holds it and the hub&apos;s authority.</source>
        <translation>Le certificat de sécurité du proxy du réseau n’a pas pu être vérifié : le hub à l’adresse %1 n’a donc pas été joint. Si votre réseau a sa propre autorité de certification, ajoutez-la au magasin de certificats du système, ou indiquez dans le profil du hub un paquet de certificats (CA bundle) qui la contient avec celle du hub.</translation>
    </message>
    <message>
        <source>The network&apos;s proxy (%1) wants a user name and password (HTTP 407) to reach the hub at %2. Give them with the profile&apos;s proxy (in the app&apos;s settings, or alu login --proxy http://user:password@proxy:3128; kept in the keyring) or in the system&apos;s proxy setting, or ask the network&apos;s administrator to let this computer through without one.</source>
        <translation>Le proxy du réseau (%1) demande un nom d’utilisateur et un mot de passe (HTTP 407) pour atteindre le hub à l’adresse %2. Indiquez-les avec le proxy du profil (dans les réglages de l’application, ou alu login --proxy http://user:password@proxy:3128&#x202f;; gardés dans le trousseau) ou dans le réglage de proxy du système, ou demandez à l’administrateur du réseau de laisser passer cet ordinateur sans.</translation>
    </message>
    <message>
        <source>The network&apos;s proxy wants a user name and password (HTTP 407) to reach the hub at %1. Give them with the profile&apos;s proxy (in the app&apos;s settings, or alu login --proxy http://user:password@proxy:3128; kept in the keyring) or in the system&apos;s proxy setting, or ask the network&apos;s administrator to let this computer through without one.</source>
        <translation>Le proxy du réseau demande un nom d’utilisateur et un mot de passe (HTTP 407) pour atteindre le hub à l’adresse %1. Indiquez-les avec le proxy du profil (dans les réglages de l’application, ou alu login --proxy http://user:password@proxy:3128&#x202f;; gardés dans le trousseau) ou dans le réglage de proxy du système, ou demandez à l’administrateur du réseau de laisser passer cet ordinateur sans.</translation>
    </message>
    <message>
        <source>The network&apos;s proxy (%1) did not accept the user name and password given for it (HTTP 407) to reach the hub at %2. Check them where they were given (the profile&apos;s proxy, in the app&apos;s settings or with alu login --proxy, or the system&apos;s proxy setting such as HTTPS_PROXY), or ask the network&apos;s administrator.</source>
        <translation>Le proxy du réseau (%1) n’a pas accepté le nom d’utilisateur et le mot de passe indiqués pour lui (HTTP 407) pour atteindre le hub à l’adresse %2. Vérifiez-les là où ils ont été indiqués (le proxy du profil, dans les réglages de l’application ou avec alu login --proxy, ou le réglage de proxy du système, comme HTTPS_PROXY), ou demandez à l’administrateur du réseau.</translation>
    </message>
    <message>
        <source>The network&apos;s proxy did not accept the user name and password given for it (HTTP 407) to reach the hub at %1. Check them where they were given (the profile&apos;s proxy, in the app&apos;s settings or with alu login --proxy, or the system&apos;s proxy setting such as HTTPS_PROXY), or ask the network&apos;s administrator.</source>
        <translation>Le proxy du réseau n’a pas accepté le nom d’utilisateur et le mot de passe indiqués pour lui (HTTP 407) pour atteindre le hub à l’adresse %1. Vérifiez-les là où ils ont été indiqués (le proxy du profil, dans les réglages de l’application ou avec alu login --proxy, ou le réglage de proxy du système, comme HTTPS_PROXY), ou demandez à l’administrateur du réseau.</translation>
    </message>
    <message>
        <source>The network&apos;s proxy (%1) refused the connection to %2 (HTTP %3); check the proxy settings, or ask the network&apos;s administrator to let this computer reach the hub.</source>
        <translation>Le proxy du réseau (%1) a refusé la connexion à %2 (HTTP %3)&#x202f;; vérifiez les réglages du proxy, ou demandez à l’administrateur du réseau de laisser cet ordinateur atteindre le hub.</translation>
    </message>
    <message>
        <source>The network&apos;s proxy refused the connection to %1 (HTTP %2); check the proxy settings, or ask the network&apos;s administrator to let this computer reach the hub.</source>
        <translation>Le proxy du réseau a refusé la connexion à %1 (HTTP %2)&#x202f;; vérifiez les réglages du proxy, ou demandez à l’administrateur du réseau de laisser cet ordinateur atteindre le hub.</translation>
    </message>
    <message>
        <source>The network&apos;s proxy (%1) could not reach the hub at %2 (HTTP %3); trying again later.</source>
        <translation>Le proxy du réseau (%1) n’a pas pu atteindre le hub à l’adresse %2 (HTTP %3)&#x202f;; nouvel essai plus tard.</translation>
    </message>
    <message>
        <source>The network&apos;s proxy could not reach the hub at %1 (HTTP %2); trying again later.</source>
        <translation>Le proxy du réseau n’a pas pu atteindre le hub à l’adresse %1 (HTTP %2)&#x202f;; nouvel essai plus tard.</translation>
    </message>
    <message>
        <source>The network&apos;s proxy (%1) refused to pass the request to the hub at %2 (HTTP %3); check the proxy settings, or ask the network&apos;s administrator to let this computer reach it.</source>
        <translation>Le proxy du réseau (%1) a refusé de transmettre la demande au hub à l’adresse %2 (HTTP %3)&#x202f;; vérifiez les réglages du proxy, ou demandez à l’administrateur du réseau de laisser cet ordinateur l’atteindre.</translation>
    </message>
    <message>
        <source>The network&apos;s proxy refused to pass the request to the hub at %1 (HTTP %2); check the proxy settings, or ask the network&apos;s administrator to let this computer reach it.</source>
        <translation>Le proxy du réseau a refusé de transmettre la demande au hub à l’adresse %1 (HTTP %2)&#x202f;; vérifiez les réglages du proxy, ou demandez à l’administrateur du réseau de laisser cet ordinateur l’atteindre.</translation>
    </message>
    <message>
        <source>The hub at %1 did not answer in time.</source>
        <translation>Le hub à l’adresse %1 n’a pas répondu à temps.</translation>
    </message>
    <message>
        <source>The hub at %1 did not answer in time. Check the workstation&apos;s connection (or the proxy), then try again.</source>
        <translation>Le hub à l’adresse %1 n’a pas répondu à temps. Vérifiez la connexion du poste (ou le proxy), puis réessayez.</translation>
    </message>
    <message>
        <source>The hub at %1 stopped answering; reconnecting.</source>
        <translation>Le hub à l’adresse %1 ne répond plus ; reconnexion en cours.</translation>
    </message>
    <message>
        <source>The server at %1 answered with something that is not HTTP a hub would send; check the hub address, or whether a proxy is in the way.</source>
        <translation>Le serveur à l’adresse %1 a répondu par autre chose que le HTTP qu’enverrait un hub&#x202f;; vérifiez l’adresse du hub, ou si un proxy est en travers.</translation>
    </message>
    <message>
        <source>The hub at %1 cannot be reached; check the network and the address.</source>
        <translation>Le hub à l’adresse %1 est injoignable&#x202f;; vérifiez le réseau et l’adresse.</translation>
    </message>
    <message>
        <source>The hub at %1 cannot be reached (%2).</source>
        <translation>Le hub à l’adresse %1 est injoignable (%2).</translation>
    </message>
    <message>
        <source>The hub at %1 answered with a redirect to %2; check the hub address.</source>
        <translation>Le hub à l’adresse %1 a répondu par une redirection vers %2&#x202f;; vérifiez l’adresse du hub.</translation>
    </message>
    <message>
        <source>The hub at %1 answered with a redirect to elsewhere; check the hub address.</source>
        <translation>Le hub à l’adresse %1 a répondu par une redirection ailleurs&#x202f;; vérifiez l’adresse du hub.</translation>
    </message>
    <message>
        <source>The hub refused the user name or password.</source>
        <translation>Le hub a refusé le nom d’utilisateur ou le mot de passe.</translation>
    </message>
    <message>
        <source>Your session with the hub has ended; sign in again.</source>
        <translation>Votre session avec le hub a pris fin&#x202f;; reconnectez-vous.</translation>
    </message>
    <message>
        <source>The hub does not allow this account to do that.</source>
        <translation>Le hub n’autorise pas ce compte à faire cela.</translation>
    </message>
    <message>
        <source>The hub does not have that.</source>
        <translation>Le hub n’a pas ce qui est demandé.</translation>
    </message>
    <message>
        <source>Too many failed sign-ins for this user or this network; try again in %1 minute(s).</source>
        <translation>Trop de connexions échouées pour cet utilisateur ou ce réseau&#x202f;; réessayez dans %1 minute(s).</translation>
    </message>
    <message>
        <source>Too many failed sign-ins for this user or this network; try again later.</source>
        <translation>Trop de connexions échouées pour cet utilisateur ou ce réseau&#x202f;; réessayez plus tard.</translation>
    </message>
    <message>
        <source>The hub at %1 is busy or failing (HTTP %2); trying again later.</source>
        <translation>Le hub à l’adresse %1 est occupé ou en panne (HTTP %2)&#x202f;; nouvel essai plus tard.</translation>
    </message>
    <message>
        <source>The hub at %1 is busy or failing (HTTP %2); try again later.</source>
        <translation>Le hub à l’adresse %1 est occupé ou en panne (HTTP %2)&#x202f;; réessayez plus tard.</translation>
    </message>
    <message>
        <source>The server at %1 does not take this request (HTTP 501), as a hub would; check the hub address.</source>
        <translation>Le serveur à l’adresse %1 n’accepte pas cette demande (HTTP 501), comme le ferait un hub ; vérifiez l’adresse du hub.</translation>
    </message>
    <message>
        <source>The hub refused the request (HTTP %1).</source>
        <translation>Le hub a refusé la demande (HTTP %1).</translation>
    </message>
    <message>
        <source>The hub&apos;s live feed answered with something else than events.</source>
        <translation>Le flux en direct du hub a répondu par autre chose que des événements.</translation>
    </message>
    <message>
        <source>The hub&apos;s live feed sent an oversized event.</source>
        <translation>Le flux en direct du hub a envoyé un événement trop gros.</translation>
    </message>
    <message>
        <source>The hub&apos;s live feed was cut off.</source>
        <translation>Le flux en direct du hub a été coupé.</translation>
    </message>
    <message>
        <source>The hub answered with something that is not ALU data.</source>
        <translation>Le hub a répondu par autre chose que des données ALU.</translation>
    </message>
    <message>
        <source>The hub at %1 answered with %2, not ALU data; a proxy or a wrong address may be in the way.</source>
        <translation>Le hub à l’adresse %1 a répondu avec %2, pas avec des données ALU&#x202f;; un proxy ou une mauvaise adresse est peut-être en travers.</translation>
    </message>
    <message>
        <source>The hub at %1 answered with no content type, not ALU data; a proxy or a wrong address may be in the way.</source>
        <translation>Le hub à l’adresse %1 a répondu sans type de contenu, pas avec des données ALU&#x202f;; un proxy ou une mauvaise adresse est peut-être en travers.</translation>
    </message>
    <message>
        <source>The hub at %1 sent an answer too large to be ALU data.</source>
        <translation>Le hub à l’adresse %1 a envoyé une réponse trop grande pour être des données ALU.</translation>
    </message>
    <message>
        <source>The connection to the hub at %1 broke during an answer.</source>
        <translation>La connexion au hub à l’adresse %1 s’est rompue pendant une réponse.</translation>
    </message>
    <message>
        <source>The library has no %1 file of item %2.</source>
        <translation>La médiathèque n’a pas de fichier %1 du sujet %2.</translation>
    </message>
    <message>
        <source>%1 was left in place: its record in the library is damaged; download it again, or delete the file yourself.</source>
        <translation>%1 a été laissé en place : sa fiche dans la médiathèque est endommagée ; téléchargez-le à nouveau, ou supprimez le fichier vous-même.</translation>
    </message>
    <message>
        <source>%1 was not removed: it cannot be reached (%2).</source>
        <translation>%1 n’a pas été supprimé : il est inaccessible (%2).</translation>
    </message>
    <message>
        <source>%1 was not removed: it could not be deleted (%2).</source>
        <translation>%1 n’a pas été supprimé : la suppression a échoué (%2).</translation>
    </message>
    <message>
        <source>%1 was left in place: its size changed from %2 to %3 bytes since it was downloaded, so it is not the file ALU Desk verified.</source>
        <translation>%1 a été laissé en place : sa taille est passée de %2 à %3 octets depuis son téléchargement ; ce n’est donc plus le fichier vérifié par ALU Desk.</translation>
    </message>
    <message>
        <source>%1 was left in place: something else than the downloaded file is at its place, so it is not the file ALU Desk verified.</source>
        <translation>%1 a été laissé en place : autre chose que le fichier téléchargé se trouve à sa place ; ce n’est donc pas le fichier vérifié par ALU Desk.</translation>
    </message>
    <message>
        <source>%1 was left in place: it was replaced or modified since it was downloaded (by another workstation sharing the folder, or by another program), so it is not the file ALU Desk verified.</source>
        <translation>%1 a été laissé en place : il a été remplacé ou modifié depuis son téléchargement (par un autre poste qui partage le dossier, ou par un autre programme) ; ce n’est donc pas le fichier vérifié par ALU Desk.</translation>
    </message>
    <message>
        <source>%1 could not be taken: %2.</source>
        <translation>%1 n’a pas pu être pris : %2.</translation>
    </message>
    <message>
        <source>%1 cannot be read: %2.</source>
        <translation>%1 ne peut pas être lu : %2.</translation>
    </message>
    <message>
        <source>%1 The hub would refuse it; it was not sent.</source>
        <translation>%1 Le hub le refuserait ; il n’a pas été envoyé.</translation>
    </message>
    <message>
        <source>Not uploaded again: the same content was already sent as %1.</source>
        <translation>Pas envoyé de nouveau : le même contenu a déjà été envoyé sous le nom %1.</translation>
    </message>
    <message>
        <source>It could not be queued: %1</source>
        <translation>Il n’a pas pu être mis en file d’attente : %1</translation>
    </message>
    <message>
        <source>%1 changed after its upload started (was it still being copied?): the item published from it may be incomplete. The file as it is now is sent as a new upload.</source>
        <translation>%1 a changé après le début de son envoi (était-il encore en cours de copie ?) : le sujet publié à partir de lui est peut-être incomplet. Le fichier tel qu’il est maintenant est envoyé comme un nouvel envoi.</translation>
    </message>
    <message>
        <source>The sidecar %1 cannot be read: %2.</source>
        <translation>Le fichier annexe %1 ne peut pas être lu : %2.</translation>
    </message>
    <message>
        <source>The sidecar %1 is not UTF-8 text.</source>
        <translation>Le fichier annexe %1 n’est pas du texte UTF-8.</translation>
    </message>
    <message>
        <source>The sidecar %1 is not valid JSON (%2). Fix it and %3 is taken again.</source>
        <translation>Le fichier annexe %1 n’est pas du JSON valide (%2). Corrigez-le et %3 sera pris de nouveau.</translation>
    </message>
    <message>
        <source>The sidecar %1 must be a JSON object like {&quot;title&quot;: &quot;…&quot;}.</source>
        <translation>Le fichier annexe %1 doit être un objet JSON comme {&quot;title&quot;: &quot;…&quot;}.</translation>
    </message>
    <message>
        <source>In the sidecar %1, %2 must be text.</source>
        <translation>Dans le fichier annexe %1, %2 doit être du texte.</translation>
    </message>
    <message>
        <source>%1: %2 (from the sidecar %3)</source>
        <translation>%1 : %2 (du fichier annexe %3)</translation>
    </message>
    <message>
        <source>%1: %2 (from the hot folder&apos;s defaults)</source>
        <translation>%1 : %2 (des valeurs par défaut du dossier surveillé)</translation>
    </message>
    <message>
        <source>%1: %2 (from the file name)</source>
        <translation>%1 : %2 (du nom du fichier)</translation>
    </message>
    <message>
        <source>Sent without %1: it arrived after %2 was taken, and its fields were not used (the item went out with the folder&apos;s defaults and the file name); it is in the sent folder marked &quot;not used&quot;. Write the sidecar first, or give the folder a longer settle time.</source>
        <translation>Envoyé sans %1 : il est arrivé après que %2 a été pris, et ses champs n’ont pas été utilisés (le sujet est parti avec les valeurs par défaut du dossier et le nom du fichier) ; il est dans le dossier « sent », marqué « not used ». Écrivez d’abord le fichier annexe, ou donnez au dossier un délai de stabilisation plus long.</translation>
    </message>
    <message>
        <source>%1 changed after it was moved to the sent folder (it was still being copied): the item published from it may be incomplete. It was put back in the hot folder, and is sent as a new upload once it has been still for the settle time.</source>
        <translation>%1 a changé après son déplacement dans le dossier « sent » (il était encore en cours de copie) : le sujet publié à partir de lui est peut-être incomplet. Il a été remis dans le dossier surveillé et sera envoyé comme un nouvel envoi dès qu’il n’aura plus changé pendant le délai de stabilisation.</translation>
    </message>
    <message>
        <source>%1 changed after it was moved to the sent folder (it was still being copied): the item published from it may be incomplete. It was put back in the hot folder, and is sent as a new upload once it has been still for the settle time. Its sidecar %2 could not be moved back with it: the file waits for it, which is tried again at every scan.</source>
        <translation>%1 a changé après son déplacement dans le dossier « sent » (il était encore en cours de copie) : le sujet publié à partir de lui est peut-être incomplet. Il a été remis dans le dossier surveillé et sera envoyé comme un nouvel envoi dès qu’il n’aura plus changé pendant le délai de stabilisation. Son fichier annexe %2 n’a pas pu être remis avec lui : le fichier l’attend, ce qui est retenté à chaque examen du dossier.</translation>
    </message>
    <message>
        <source>%1 is being sent by %2, another workstation watching this folder; it is not sent from here.</source>
        <translation>%1 est en cours d’envoi par %2, un autre poste qui surveille ce dossier ; il n’est pas envoyé depuis ce poste.</translation>
    </message>
    <message>
        <source>%1 was taken over by %2, another workstation watching this folder, while this one was asleep or off the network: it is sent from there, and its upload here was canceled. Nothing needs to be done.</source>
        <translation>%1 a été repris par %2, un autre poste qui surveille ce dossier, pendant que ce poste était en veille ou hors du réseau : il est envoyé depuis là-bas, et son envoi depuis ce poste a été annulé. Il n’y a rien à faire.</translation>
    </message>
    <message>
        <source>The hub refused it: %1</source>
        <translation>Le hub l’a refusé : %1</translation>
    </message>
    <message>
        <source>The hub refused it: no reason given</source>
        <translation>Le hub l’a refusé sans donner de raison</translation>
    </message>
    <message>
        <source>The upload was canceled.</source>
        <translation>L’envoi a été annulé.</translation>
    </message>
    <message>
        <source>The upload failed.</source>
        <translation>L’envoi a échoué.</translation>
    </message>
    <message>
        <source>The upload was removed from the queue.</source>
        <translation>L’envoi a été retiré de la file d’attente.</translation>
    </message>
    <message>
        <source>The %1 is too long (%2 characters; at most %3).</source>
        <translation>Le champ %1 est trop long (%2 caractères ; au plus %3).</translation>
    </message>
    <message>
        <source>The %1 is too long (at most %2 characters).</source>
        <translation>Le champ %1 est trop long (au plus %2 caractères).</translation>
    </message>
    <message>
        <source>A title is needed.</source>
        <translation>Il faut un titre.</translation>
    </message>
    <message>
        <source>The language must be English, French or Arabic.</source>
        <translation>La langue doit être l&apos;anglais, le français ou l&apos;arabe.</translation>
    </message>
    <message>
        <source>The priority must be flash, urgent or routine.</source>
        <translation>La priorité doit être flash, urgent ou routine.</translation>
    </message>
    <message>
        <source>The country is a two-letter code, like KE or SN.</source>
        <translation>Le pays est un code de deux lettres, comme KE ou SN.</translation>
    </message>
    <message>
        <source>The recording date is not a date (use 2026-11-22 or 2026-11-22T14:30).</source>
        <translation>La date d’enregistrement n’est pas une date (utilisez 2026-11-22 ou 2026-11-22T14:30).</translation>
    </message>
    <message>
        <source>The recording date is in the future; check it (and the camera&apos;s clock).</source>
        <translation>La date d’enregistrement est dans le futur ; vérifiez-la (et l’horloge de la caméra).</translation>
    </message>
    <message>
        <source>The recording date is in the future (hub time %1 UTC); this computer&apos;s clock is %2 ahead of the hub&apos;s: check the date, and set the clock right in the system&apos;s date and time settings.</source>
        <translation>La date d’enregistrement est dans le futur (heure du hub : %1 UTC) ; l’horloge de cet ordinateur avance de %2 sur celle du hub&#x202f;: vérifiez la date, et remettez l’horloge à l’heure dans les réglages de date et d’heure du système.</translation>
    </message>
    <message>
        <source>The recording date is in the future (hub time %1 UTC); this computer&apos;s clock is %2 behind the hub&apos;s: check the date, and set the clock right in the system&apos;s date and time settings.</source>
        <translation>La date d’enregistrement est dans le futur (heure du hub : %1 UTC) ; l’horloge de cet ordinateur retarde de %2 sur celle du hub&#x202f;: vérifiez la date, et remettez l’horloge à l’heure dans les réglages de date et d’heure du système.</translation>
    </message>
    <message>
        <source>The recording date is before 1900.</source>
        <translation>La date d’enregistrement est antérieure à 1900.</translation>
    </message>
    <message>
        <source>The script, shot list and restrictions are too long together for the hub (%1 KiB once encoded; at most %2 KiB): shorten this text.</source>
        <translation>Le script, la liste des plans et les restrictions sont trop longs ensemble pour le hub (%1 Kio une fois encodés ; au plus %2 Kio) : raccourcissez ce texte.</translation>
    </message>
    <message>
        <source>The hot folder %1 is not there (a drive unplugged, a share not mounted?): its files are taken once it is back.</source>
        <translation>Le dossier surveillé %1 est introuvable (un disque débranché, un partage non monté ?) : ses fichiers seront pris dès qu’il sera de retour.</translation>
    </message>
    <message>
        <source>The hot folder %1 cannot be read: %2.</source>
        <translation>Le dossier surveillé %1 ne peut pas être lu : %2.</translation>
    </message>
    <message>
        <source>The hot folder %1 is also where downloads are saved: every clip downloaded there would be published again. Nothing is taken from it; choose another folder for the one or the other.</source>
        <translation>Le dossier surveillé %1 est aussi celui où les téléchargements sont enregistrés : chaque clip téléchargé serait publié de nouveau. Rien n’y est pris ; choisissez un autre dossier pour l’un ou pour l’autre.</translation>
    </message>
    <message>
        <source>Files sent cannot be moved to the sent folder %1: %2. They stay in the hot folder, and are moved once it can be written.</source>
        <translation>Les fichiers envoyés ne peuvent pas être déplacés dans le dossier « sent » %1 : %2. Ils restent dans le dossier surveillé et y seront déplacés dès qu’il sera accessible en écriture.</translation>
    </message>
    <message>
        <source>%1 in the hot folder %2 is a link (a shortcut to a file elsewhere) or a special file: links are not followed, so it is not sent. Put the file itself in the folder.</source>
        <translation>%1 dans le dossier surveillé %2 est un lien (un raccourci vers un fichier situé ailleurs) ou un fichier spécial : les liens ne sont pas suivis, il n’est donc pas envoyé. Placez le fichier lui-même dans le dossier.</translation>
    </message>
    <message>
        <source>The name of “%1” in %2 is not valid text: it holds bytes no character set here can read. Rename the file, then add it again.</source>
        <translation>Le nom de « %1 » dans %2 n’est pas un texte valide : il contient des octets qu’aucun jeu de caractères d’ici ne sait lire. Renommez le fichier, puis ajoutez-le de nouveau.</translation>
    </message>
    <message>
        <source>%1 is not a folder, or cannot be reached.</source>
        <translation>%1 n’est pas un dossier, ou il est inaccessible.</translation>
    </message>
    <message>
        <source>%1 is already a hot folder.</source>
        <translation>%1 est déjà un dossier surveillé.</translation>
    </message>
    <message>
        <source>%1 is already a hot folder (for the hub profile %2).</source>
        <translation>%1 est déjà un dossier surveillé (pour le profil de hub %2).</translation>
    </message>
    <message>
        <source>There is no hot folder #%1.</source>
        <translation>Il n’y a pas de dossier surveillé n° %1.</translation>
    </message>
    <message>
        <source>In the folder&apos;s defaults: %1</source>
        <translation>Dans les valeurs par défaut du dossier : %1</translation>
    </message>
    <message>
        <source>The sent folder cannot be the hot folder itself.</source>
        <translation>Le dossier « sent » ne peut pas être le dossier surveillé lui-même.</translation>
    </message>
    <message>
        <source>The sent folder needs a name (like &apos;sent&apos;) or a full path.</source>
        <translation>Le dossier « sent » a besoin d’un nom (comme « sent ») ou d’un chemin complet.</translation>
    </message>
    <message>
        <source>The settle time is between 0 seconds and a day.</source>
        <translation>Le délai de stabilisation est compris entre 0 seconde et un jour.</translation>
    </message>
</context>
<context>
    <name>FeedPanel</name>
    <message>
        <source>broadcast</source>
        <translation>diffusion</translation>
    </message>
    <message>
        <source>proxy</source>
        <translation>proxy</translation>
    </message>
    <message>
        <source>“{title}” has no {rendition} file.</source>
        <translation>« {title} » n’a pas de fichier {rendition}.</translation>
    </message>
    <message>
        <source>Could not download “{title}”: {error}</source>
        <translation>Impossible de télécharger « {title} » : {error}</translation>
    </message>
    <message>
        <source>Something went wrong: {error}</source>
        <translation>Un problème est survenu : {error}</translation>
    </message>
    <message>
        <source>Already downloaded: “{title}”</source>
        <translation>Déjà téléchargé : « {title} »</translation>
    </message>
    <message numerus="yes">
        <source>%Ln unread</source>
        <translation>
            <numerusform>%Ln non lu</numerusform>
            <numerusform>%Ln non lus</numerusform>
        </translation>
    </message>
    <message>
        <source>Select an item first.</source>
        <translation>Sélectionnez d’abord un sujet.</translation>
    </message>
    <message>
        <source>“{title}” was withdrawn by the agency: it is not downloaded.</source>
        <translation>« {title} » a été retiré par l’agence : il n’est pas téléchargé.</translation>
    </message>
    <message numerus="yes">
        <source>Already downloaded: “{title}” and %Ln more</source>
        <translation>
            <numerusform>Déjà téléchargés : « {title} » et %Ln autre</numerusform>
            <numerusform>Déjà téléchargés : « {title} » et %Ln autres</numerusform>
        </translation>
    </message>
    <message>
        <source>&amp;Download</source>
        <translation>&amp;Télécharger</translation>
    </message>
    <message>
        <source>Download the broadcast file of the selected items</source>
        <translation>Télécharger le fichier de diffusion des sujets sélectionnés</translation>
    </message>
    <message>
        <source>Download &amp;proxy</source>
        <translation>Télécharger le &amp;proxy</translation>
    </message>
    <message>
        <source>Download the small preview file of the selected items</source>
        <translation>Télécharger le petit fichier de visionnage des sujets sélectionnés</translation>
    </message>
    <message>
        <source>Pre&amp;view</source>
        <translation>&amp;Aperçu</translation>
    </message>
    <message>
        <source>Play the downloaded file in the Library</source>
        <translation>Lire le fichier téléchargé dans la Médiathèque</translation>
    </message>
    <message>
        <source>Mark all &amp;read</source>
        <translation>Tout marquer comme &amp;lu</translation>
    </message>
    <message>
        <source>Mark as read every item the filters and the search show</source>
        <translation>Marquer comme lus tous les sujets affichés par les filtres et la recherche</translation>
    </message>
    <message>
        <source>Feed commands</source>
        <translation>Commandes du fil</translation>
    </message>
    <message>
        <source>Feed</source>
        <translation>Fil</translation>
    </message>
    <message>
        <source>Items pushed to this newsroom, newest first</source>
        <translation>Sujets envoyés à cette rédaction, les plus récents d’abord</translation>
    </message>
</context>
<context>
    <name>FilterBar</name>
    <message>
        <source>All languages</source>
        <translation>Toutes les langues</translation>
    </message>
    <message>
        <source>All categories</source>
        <translation>Toutes les rubriques</translation>
    </message>
    <message>
        <source>All regions</source>
        <translation>Toutes les régions</translation>
    </message>
    <message>
        <source>&amp;Search:</source>
        <translation>&amp;Rechercher :</translation>
    </message>
    <message>
        <source>Words in title, slug, dateline, script…</source>
        <translation>Mots du titre, du slug, du lieu, du script…</translation>
    </message>
    <message>
        <source>Search items</source>
        <translation>Rechercher des sujets</translation>
    </message>
    <message>
        <source>Language</source>
        <translation>Langue</translation>
    </message>
    <message>
        <source>Category</source>
        <translation>Rubrique</translation>
    </message>
    <message>
        <source>Region</source>
        <translation>Région</translation>
    </message>
    <message>
        <source>Priority</source>
        <translation>Priorité</translation>
    </message>
    <message>
        <source>Published</source>
        <translation>Publication</translation>
    </message>
    <message>
        <source>Find</source>
        <translation>Rechercher</translation>
    </message>
    <message>
        <source>All priorities</source>
        <translation>Toutes les priorités</translation>
    </message>
    <message>
        <source>Any date</source>
        <translation>Toutes les dates</translation>
    </message>
    <message>
        <source>Today</source>
        <translation>Aujourd’hui</translation>
    </message>
    <message numerus="yes">
        <source>Last %Ln hours</source>
        <translation>
            <numerusform>Dernière heure</numerusform>
            <numerusform>Dernières %Ln heures</numerusform>
        </translation>
    </message>
    <message numerus="yes">
        <source>Last %Ln days</source>
        <translation>
            <numerusform>Dernier jour</numerusform>
            <numerusform>%Ln derniers jours</numerusform>
        </translation>
    </message>
</context>
<context>
    <name>Formats</name>
    <message>
        <source> · </source>
        <extracomment>between the parts of a one-line summary: &quot;clip.mp4 · 4 s long · 640×360 · h264&quot;, &quot;Online · 2 active&quot;. Spaces included. Arabic: not the middle dot, which looks like the zero ٠ there (e.g. &quot;، &quot; or &quot; | &quot;).</extracomment>
        <translation> · </translation>
    </message>
    <message>
        <source>{name} (proxy)</source>
        <translation>{name} (proxy)</translation>
    </message>
    <message>
        <source>{name} ({rendition})</source>
        <translation>{name} ({rendition})</translation>
    </message>
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
    <name>GeneralPage</name>
    <message>
        <source>Same as the system</source>
        <translation>Comme le système</translation>
    </message>
    <message>
        <source>&amp;Language:</source>
        <translation>&amp;Langue :</translation>
    </message>
    <message>
        <source>Language</source>
        <translation>Langue</translation>
    </message>
    <message>
        <source>Closing the window keeps transfers running (tray)</source>
        <translation>Fermer la fenêtre laisse les transferts se poursuivre (zone de notification)</translation>
    </message>
    <message>
        <source>Start ALU Desk when I log in</source>
        <translation>Lancer ALU Desk à l’ouverture de session</translation>
    </message>
    <message>
        <source>Notify me of flash and urgent pushes and of finished transfers</source>
        <translation>Me prévenir des envois flash et urgents et des transferts terminés</translation>
    </message>
    <message>
        <source>ALU Desk is running from its disk image or from a temporary copy, which is gone after a restart. Move ALU Desk to Applications first, then turn on Start ALU Desk when I log in.</source>
        <translation>ALU Desk s’exécute depuis son image disque ou depuis une copie temporaire, qui aura disparu après un redémarrage. Déplacez d’abord ALU Desk dans Applications, puis activez « Lancer ALU Desk à l’ouverture de session ».</translation>
    </message>
    <message>
        <source>The login entry could not be written: {why}</source>
        <translation>Impossible d’enregistrer le lancement à l’ouverture de session : {why}</translation>
    </message>
</context>
<context>
    <name>HistoryModel</name>
    <message>
        <source>When</source>
        <translation>Quand</translation>
    </message>
    <message>
        <source>What</source>
        <translation>Événement</translation>
    </message>
    <message>
        <source>Item</source>
        <translation>Sujet</translation>
    </message>
    <message>
        <source>Size</source>
        <translation>Taille</translation>
    </message>
    <message>
        <source>Speed</source>
        <translation>Débit</translation>
    </message>
    <message>
        <source>Time taken</source>
        <translation>Durée</translation>
    </message>
    <message>
        <source>Workstation</source>
        <translation>Poste de travail</translation>
    </message>
    <message>
        <source>Rule</source>
        <translation>Règle</translation>
    </message>
    <message>
        <source>Sent to hub</source>
        <translation>Envoyé au hub</translation>
    </message>
    <message>
        <source>Download completed</source>
        <translation>Téléchargement terminé</translation>
    </message>
    <message>
        <source>Download failed</source>
        <translation>Échec du téléchargement</translation>
    </message>
    <message>
        <source>Download canceled</source>
        <translation>Téléchargement annulé</translation>
    </message>
    <message>
        <source>Download canceled: withdrawn by the agency</source>
        <translation>Téléchargement annulé : retiré par l’agence</translation>
    </message>
    <message>
        <source>Upload completed</source>
        <translation>Envoi terminé</translation>
    </message>
    <message>
        <source>Upload failed</source>
        <translation>Échec de l&apos;envoi</translation>
    </message>
    <message>
        <source>Upload canceled</source>
        <translation>Envoi annulé</translation>
    </message>
    <message>
        <source>This workstation</source>
        <translation>Ce poste</translation>
    </message>
    <message>
        <source>Waiting to be sent</source>
        <translation>En attente d&apos;envoi</translation>
    </message>
    <message>
        <source>Sent</source>
        <translation>Envoyé</translation>
    </message>
    <message>
        <source>Refused by the hub</source>
        <translation>Refusé par le hub</translation>
    </message>
    <message>
        <source>Not sent: another hub now</source>
        <translation>Non envoyé : autre hub désormais</translation>
    </message>
    <message>
        <source>From the hub</source>
        <translation>Reçu du hub</translation>
    </message>
    <message>
        <source>{rule} (rule removed)</source>
        <translation>{rule} (règle supprimée)</translation>
    </message>
    <message>
        <source>Recorded for the hub that was at this address before. The hub there now is another one, which never had the item: this event stays on this workstation.</source>
        <translation>Enregistré pour le hub qui était avant à cette adresse. Le hub qui s’y trouve maintenant est un autre, qui n’a jamais eu ce sujet : cet événement reste sur ce poste.</translation>
    </message>
</context>
<context>
    <name>HistoryPanel</name>
    <message>
        <source>&amp;Refresh</source>
        <translation>&amp;Actualiser</translation>
    </message>
    <message>
        <source>Read the history again (F5)</source>
        <translation>Relire l&apos;historique (F5)</translation>
    </message>
    <message>
        <source>&amp;Sync now</source>
        <translation>&amp;Synchroniser</translation>
    </message>
    <message>
        <source>Send this workstation&apos;s history to the hub and fetch the others&apos;</source>
        <translation>Envoyer l&apos;historique de ce poste au hub et récupérer celui des autres postes</translation>
    </message>
    <message>
        <source>History commands</source>
        <translation>Commandes de l&apos;historique</translation>
    </message>
    <message>
        <source>History</source>
        <translation>Historique</translation>
    </message>
    <message>
        <source>Downloads and uploads that ended, the newest first</source>
        <translation>Téléchargements et envois terminés, les plus récents d&apos;abord</translation>
    </message>
    <message numerus="yes">
        <source>%Ln events waiting to be sent to the hub</source>
        <translation>
            <numerusform>%Ln événement en attente d’envoi au hub</numerusform>
            <numerusform>%Ln événements en attente d’envoi au hub</numerusform>
        </translation>
    </message>
    <message>
        <source>Everything has been sent to the hub</source>
        <translation>Tout a été envoyé au hub</translation>
    </message>
    <message>
        <source>Could not read the history: {error}</source>
        <translation>Impossible de lire l&apos;historique : {error}</translation>
    </message>
    <message>
        <source>Syncing the history with the hub…</source>
        <translation>Synchronisation de l&apos;historique avec le hub…</translation>
    </message>
    <message>
        <source>History synced: {sent} sent, {received} new from other workstations.</source>
        <translation>Historique synchronisé — envoyés : {sent} ; nouveaux, venus d&apos;autres postes : {received}.</translation>
    </message>
    <message>
        <source>The hub cannot be reached just now; the history will be sent when it can.</source>
        <translation>Le hub est injoignable pour le moment ; l&apos;historique sera envoyé dès que possible.</translation>
    </message>
    <message>
        <source>Sign in to the hub again to sync the history.</source>
        <translation>Reconnectez-vous au hub pour synchroniser l&apos;historique.</translation>
    </message>
    <message>
        <source>Could not sync the history: {error}</source>
        <translation>Impossible de synchroniser l&apos;historique : {error}</translation>
    </message>
</context>
<context>
    <name>HotFolderDialog</name>
    <message>
        <source>New hot folder</source>
        <translation>Nouveau dossier surveillé</translation>
    </message>
    <message>
        <source>Folder to watch</source>
        <translation>Dossier à surveiller</translation>
    </message>
    <message>
        <source>Choose the folder to watch</source>
        <translation>Choisir le dossier à surveiller</translation>
    </message>
    <message>
        <source>Default language</source>
        <translation>Langue par défaut</translation>
    </message>
    <message>
        <source>Not set (English)</source>
        <translation>Non précisée (anglais)</translation>
    </message>
    <message>
        <source>English</source>
        <translation>Anglais</translation>
    </message>
    <message>
        <source>French</source>
        <translation>Français</translation>
    </message>
    <message>
        <source>Arabic</source>
        <translation>Arabe</translation>
    </message>
    <message>
        <source>Default category</source>
        <translation>Rubrique par défaut</translation>
    </message>
    <message>
        <source>Default country (two letters)</source>
        <translation>Pays par défaut (deux lettres)</translation>
    </message>
    <message>
        <source>e.g. KE</source>
        <translation>p. ex. KE</translation>
    </message>
    <message>
        <source>Default priority</source>
        <translation>Priorité par défaut</translation>
    </message>
    <message>
        <source>Not set (routine)</source>
        <translation>Non précisée (routine)</translation>
    </message>
    <message>
        <source>&amp;Folder:</source>
        <translation>&amp;Dossier :</translation>
    </message>
    <message>
        <source>Defaults for its files (a sidecar .json may say otherwise):</source>
        <translation>Valeurs par défaut de ses fichiers (un fichier .json associé peut les remplacer) :</translation>
    </message>
    <message>
        <source>&amp;Language:</source>
        <translation>&amp;Langue :</translation>
    </message>
    <message>
        <source>&amp;Category:</source>
        <translation>&amp;Rubrique :</translation>
    </message>
    <message>
        <source>C&amp;ountry:</source>
        <translation>&amp;Pays :</translation>
    </message>
    <message>
        <source>&amp;Priority:</source>
        <translation>Pr&amp;iorité :</translation>
    </message>
    <message>
        <source>Choose the folder to watch.</source>
        <translation>Choisissez le dossier à surveiller.</translation>
    </message>
    <message>
        <source>This folder is already a hot folder.</source>
        <translation>Ce dossier est déjà surveillé.</translation>
    </message>
    <message>
        <source>The country is a two-letter code, like KE or SN.</source>
        <translation>Le pays est un code de deux lettres, comme KE ou SN.</translation>
    </message>
    <message>
        <source>The category is too long.</source>
        <translation>La rubrique est trop longue.</translation>
    </message>
</context>
<context>
    <name>HotFoldersModel</name>
    <message>
        <source>Folder</source>
        <translation>Dossier</translation>
    </message>
    <message>
        <source>On</source>
        <translation>Actif</translation>
    </message>
    <message>
        <source>Sent</source>
        <translation>Envoyés</translation>
    </message>
    <message>
        <source>Errors</source>
        <translation>Erreurs</translation>
    </message>
    <message>
        <source>Defaults</source>
        <translation>Valeurs par défaut</translation>
    </message>
    <message>
        <source>Watched</source>
        <translation>Surveillé</translation>
    </message>
    <message>
        <source>Not watched</source>
        <translation>Non surveillé</translation>
    </message>
</context>
<context>
    <name>HotFoldersPage</name>
    <message>
        <source>A file put in a hot folder is uploaded once it is complete, then moved to its “sent” folder.</source>
        <translation>Un fichier déposé dans un dossier surveillé est envoyé dès qu’il est complet, puis déplacé dans son dossier « sent ».</translation>
    </message>
    <message>
        <source>Sign in to a hub to watch folders for uploads.</source>
        <translation>Connectez-vous à un hub pour surveiller des dossiers d’envoi.</translation>
    </message>
    <message>
        <source>Hot folders</source>
        <translation>Dossiers surveillés</translation>
    </message>
    <message>
        <source>Files not sent</source>
        <translation>Fichiers non envoyés</translation>
    </message>
    <message>
        <source>Files of this folder that were &amp;not sent:</source>
        <translation>Fichiers de ce dossier &amp;non envoyés :</translation>
    </message>
    <message>
        <source>Files sent by another workstation</source>
        <translation>Fichiers envoyés par un autre poste</translation>
    </message>
    <message>
        <source>Files of this folder another &amp;workstation is sending (nothing to do):</source>
        <translation>Fichiers de ce dossier qu’un autre &amp;poste envoie (rien à faire) :</translation>
    </message>
    <message>
        <source>&amp;Add folder…</source>
        <translation>&amp;Ajouter un dossier…</translation>
    </message>
    <message>
        <source>&amp;Remove</source>
        <translation>&amp;Retirer</translation>
    </message>
    <message>
        <source>Re&amp;try</source>
        <translation>Réessa&amp;yer</translation>
    </message>
    <message>
        <source>Take this file again at the next scan (at once)</source>
        <translation>Reprendre ce fichier au prochain passage (immédiat)</translation>
    </message>
</context>
<context>
    <name>ItemDetail</name>
    <message>
        <source>Withdrawn by the agency — do not use</source>
        <translation>Retiré par l’agence — ne pas utiliser</translation>
    </message>
    <message>
        <source>Withdrawn {date}: {reason}</source>
        <translation>Retiré le {date} : {reason}</translation>
    </message>
    <message>
        <source>Corrected {date}: {note}</source>
        <translation>Corrigé le {date} : {note}</translation>
    </message>
    <message>
        <source>None</source>
        <translation>Aucune</translation>
    </message>
    <message>
        <source>Broadcast</source>
        <translation>Diffusion</translation>
    </message>
    <message>
        <source>Proxy</source>
        <translation>Proxy</translation>
    </message>
    <message>
        <source>on this workstation</source>
        <translation>sur ce poste</translation>
    </message>
    <message>
        <source>file missing</source>
        <translation>fichier introuvable</translation>
    </message>
    <message>
        <source>file changed</source>
        <extracomment>a file still on the disk, but not the one downloaded and verified</extracomment>
        <translation>fichier modifié</translation>
    </message>
    <message>
        <source>{rendition}: {details}</source>
        <extracomment>a rendition and what is known of it: &quot;Broadcast: 160 kB, 640×360&quot;</extracomment>
        <translation>{rendition} : {details}</translation>
    </message>
    <message>
        <source>, </source>
        <extracomment>between the details of a rendition: &quot;160 kB, 640×360, on this workstation&quot;</extracomment>
        <translation>, </translation>
    </message>
    <message>
        <source>{name} — {what}: {reason}</source>
        <extracomment>a file the library records missing, and why: &quot;001.mp4 — file changed: its size changed from 147,653 to 73,826 bytes since it was verified&quot;</extracomment>
        <translation>{name} — {what} : {reason}</translation>
    </message>
    <message>
        <source>{name} — {what}</source>
        <translation>{name} — {what}</translation>
    </message>
    <message>
        <source>{name} seems damaged: it could not be played. Download again (Ctrl+D) checks it and, if it is damaged, replaces it with a verified copy.</source>
        <translation>{name} semble endommagé : il n’a pas pu être lu. Télécharger à nouveau (Ctrl+D) le vérifie et, s’il est endommagé, le remplace par une copie vérifiée.</translation>
    </message>
    <message>
        <source>{name} is the file that was downloaded and verified (its checksum matches), but it cannot be played here: Open file opens it with this workstation&apos;s own player.</source>
        <translation>{name} est le fichier téléchargé et vérifié (sa somme de contrôle correspond), mais il ne peut pas être lu ici : Ouvrir le fichier l’ouvre avec le lecteur de ce poste.</translation>
    </message>
    <message>
        <source>{name} could not be examined: {reason} It may be damaged: Download again (Ctrl+D) checks it and, if it is, replaces it with a verified copy.</source>
        <translation>{name} n’a pas pu être examiné : {reason} Il est peut-être endommagé : Télécharger à nouveau (Ctrl+D) le vérifie et, s’il l’est, le remplace par une copie vérifiée.</translation>
    </message>
    <message>
        <source>{name} — not examined yet</source>
        <translation>{name} — pas encore analysé</translation>
    </message>
    <message>
        <source>{fps} fps</source>
        <translation>{fps} i/s</translation>
    </message>
    <message numerus="yes">
        <source>%Ln channels</source>
        <extracomment>the audio channels of a file: &quot;1 channel&quot;, &quot;2 channels&quot;</extracomment>
        <translation>
            <numerusform>%Ln canal</numerusform>
            <numerusform>%Ln canaux</numerusform>
        </translation>
    </message>
    <message>
        <source>{rate} Hz</source>
        <extracomment>an audio sampling rate: &quot;48,000 Hz&quot;</extracomment>
        <translation>{rate} Hz</translation>
    </message>
    <message>
        <source>Video: {video}</source>
        <translation>Vidéo : {video}</translation>
    </message>
    <message>
        <source>none</source>
        <translation>aucune</translation>
    </message>
    <message>
        <source>Audio: {audio}</source>
        <translation>Audio : {audio}</translation>
    </message>
    <message>
        <source>Length: {length}</source>
        <translation>Durée : {length}</translation>
    </message>
    <message>
        <source>Size: {size}</source>
        <translation>Taille : {size}</translation>
    </message>
    <message>
        <source>Sent by:</source>
        <extracomment>who sent the item: &quot;Sent by: The agency&quot;, &quot;Sent by: You (Kenya TV)&quot;</extracomment>
        <translation>Envoyé par :</translation>
    </message>
    <message>
        <source>Slug:</source>
        <translation>Slug :</translation>
    </message>
    <message>
        <source>Dateline:</source>
        <translation>Lieu et date :</translation>
    </message>
    <message>
        <source>Published:</source>
        <translation>Publié :</translation>
    </message>
    <message>
        <source>Recorded:</source>
        <translation>Tourné :</translation>
    </message>
    <message>
        <source>Language:</source>
        <translation>Langue :</translation>
    </message>
    <message>
        <source>Category:</source>
        <translation>Rubrique :</translation>
    </message>
    <message>
        <source>Region:</source>
        <translation>Région :</translation>
    </message>
    <message>
        <source>Country:</source>
        <translation>Pays :</translation>
    </message>
    <message>
        <source>Priority:</source>
        <translation>Priorité :</translation>
    </message>
    <message>
        <source>Restrictions:</source>
        <translation>Restrictions :</translation>
    </message>
    <message>
        <source>Renditions:</source>
        <translation>Versions :</translation>
    </message>
    <message>
        <source>Local file:</source>
        <translation>Fichier local :</translation>
    </message>
    <message>
        <source>Script</source>
        <translation>Script</translation>
    </message>
    <message>
        <source>Shotlist</source>
        <translation>Liste des plans</translation>
    </message>
    <message>
        <source>Select an item to see its details.</source>
        <translation>Sélectionnez un sujet pour en voir le détail.</translation>
    </message>
    <message>
        <source>Delete its files on this workstation…</source>
        <translation>Supprimer ses fichiers sur ce poste…</translation>
    </message>
    <message>
        <source>Deletes the files of this withdrawn item from this workstation (asked first).</source>
        <translation>Supprime de ce poste les fichiers de ce sujet retiré (après confirmation).</translation>
    </message>
    <message>
        <source>Item details</source>
        <translation>Détail du sujet</translation>
    </message>
    <message>
        <source>The agency</source>
        <extracomment>after &quot;Sent by:&quot;, an item the agency pushed</extracomment>
        <translation>L’agence</translation>
    </message>
    <message>
        <source>You ({member})</source>
        <extracomment>after &quot;Sent by:&quot;, an item this member uploaded itself: &quot;You (Kenya TV)&quot;</extracomment>
        <translation>Vous ({member})</translation>
    </message>
    <message>
        <source>A member</source>
        <extracomment>after &quot;Sent by:&quot;, a member&apos;s upload whose member the hub did not name</extracomment>
        <translation>Un membre</translation>
    </message>
</context>
<context>
    <name>ItemNoticeBoard</name>
    <message>
        <source>Corrected by the agency: usage restrictions of “%1” changed.</source>
        <translation>Corrigé par l’agence : les restrictions d’usage de « %1 » ont changé.</translation>
    </message>
    <message numerus="yes">
        <source>Corrected by the agency: usage restrictions of %Ln items changed.</source>
        <translation>
            <numerusform>Corrigé par l’agence : les restrictions d’usage de %Ln sujet ont changé.</numerusform>
            <numerusform>Corrigé par l’agence : les restrictions d’usage de %Ln sujets ont changé.</numerusform>
        </translation>
    </message>
    <message>
        <source>⚠ Withdrawn: “%1”</source>
        <translation>⚠ Retiré : « %1 »</translation>
    </message>
    <message numerus="yes">
        <source>⚠ %Ln items withdrawn</source>
        <translation>
            <numerusform>⚠ %Ln sujet retiré</numerusform>
            <numerusform>⚠ %Ln sujets retirés</numerusform>
        </translation>
    </message>
    <message>
        <source>Withdrawn by the agency — do not use:</source>
        <translation>Retiré par l’agence — ne pas utiliser :</translation>
    </message>
    <message>
        <source>{title}: {reason}</source>
        <translation>{title} : {reason}</translation>
    </message>
    <message numerus="yes">
        <source>and %Ln more</source>
        <translation>
            <numerusform>et %Ln autre</numerusform>
            <numerusform>et %Ln autres</numerusform>
        </translation>
    </message>
    <message>
        <source>Click to open the Library.</source>
        <translation>Cliquez pour ouvrir la Médiathèque.</translation>
    </message>
</context>
<context>
    <name>ItemsModel</name>
    <message>
        <source>Agency</source>
        <extracomment>the Sent by column of an item the agency pushed</extracomment>
        <translation>Agence</translation>
    </message>
    <message>
        <source>You</source>
        <extracomment>the Sent by column of an item this member uploaded itself</extracomment>
        <translation>Vous</translation>
    </message>
    <message>
        <source>Member</source>
        <extracomment>the Sent by column of a member&apos;s upload whose member the hub did not name</extracomment>
        <translation>Membre</translation>
    </message>
    <message>
        <source>just now</source>
        <translation>à l’instant</translation>
    </message>
    <message>
        <source>{n} min ago</source>
        <translation>il y a {n} min</translation>
    </message>
    <message>
        <source>{n} h ago</source>
        <translation>il y a {n} h</translation>
    </message>
    <message>
        <source>Sent by: {sender}</source>
        <extracomment>the tooltip of the Sent by column: &quot;Sent by: You (Kenya TV)&quot;</extracomment>
        <translation>Envoyé par&#x202f;: {sender}</translation>
    </message>
    <message>
        <source>{rendition} file {name}: {reason}</source>
        <extracomment>why a file of an item is not usable: &quot;Broadcast file 001.mp4: its size changed from 147,653 to 73,826 bytes since it was verified&quot;</extracomment>
        <translation>Fichier {rendition} {name} : {reason}</translation>
    </message>
    <message>
        <source>Only the low-resolution proxy is on this workstation.</source>
        <translation>Seul le proxy basse résolution est sur ce poste.</translation>
    </message>
    <message>
        <source>Could not read the library: {error}</source>
        <translation>Impossible de lire la médiathèque : {error}</translation>
    </message>
    <message>
        <source>Title</source>
        <translation>Titre</translation>
    </message>
    <message>
        <source>Slug</source>
        <translation>Slug</translation>
    </message>
    <message>
        <source>Dateline</source>
        <translation>Lieu</translation>
    </message>
    <message>
        <source>Sent by</source>
        <extracomment>the column saying who sent an item: the agency, a member, or you</extracomment>
        <translation>Envoyé par</translation>
    </message>
    <message>
        <source>Language</source>
        <translation>Langue</translation>
    </message>
    <message>
        <source>Duration</source>
        <translation>Durée</translation>
    </message>
    <message>
        <source>Priority</source>
        <translation>Priorité</translation>
    </message>
    <message>
        <source>Published</source>
        <translation>Publication</translation>
    </message>
    <message>
        <source>State</source>
        <translation>État</translation>
    </message>
    <message>
        <source>Picture</source>
        <translation>Image</translation>
    </message>
    <message>
        <source>Withdrawn — do not use</source>
        <translation>Retiré — ne pas utiliser</translation>
    </message>
    <message>
        <source>Withdrawn by the agency — do not use</source>
        <translation>Retiré par l’agence — ne pas utiliser</translation>
    </message>
    <message>
        <source>Withdrawn</source>
        <translation>Retiré</translation>
    </message>
    <message>
        <source>Withdrawn {date}: {reason}</source>
        <translation>Retiré le {date} : {reason}</translation>
    </message>
    <message>
        <source>Corrected</source>
        <translation>Corrigé</translation>
    </message>
    <message>
        <source>{state}, corrected</source>
        <translation>{state}, corrigé</translation>
    </message>
    <message>
        <source>Corrected {date}: {note}</source>
        <translation>Corrigé le {date} : {note}</translation>
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
        <source>New</source>
        <translation>Nouveau</translation>
    </message>
    <message>
        <source>Queued</source>
        <translation>En attente</translation>
    </message>
    <message>
        <source>Paused</source>
        <translation>En pause</translation>
    </message>
    <message>
        <source>Failed</source>
        <translation>Échec</translation>
    </message>
    <message>
        <source>Downloaded</source>
        <translation>Téléchargé</translation>
    </message>
    <message>
        <source>Proxy only</source>
        <extracomment>an item of which only the low-resolution proxy file is on this workstation</extracomment>
        <translation>Proxy seul</translation>
    </message>
    <message>
        <source>Broadcast</source>
        <extracomment>the kinds of file of an item, in &quot;Broadcast file 001.mp4: …&quot;</extracomment>
        <translation>de diffusion</translation>
    </message>
    <message>
        <source>Proxy</source>
        <translation>proxy</translation>
    </message>
    <message>
        <source>Missing</source>
        <translation>Introuvable</translation>
    </message>
</context>
<context>
    <name>Languages</name>
    <message>
        <source>English</source>
        <translation>Anglais</translation>
    </message>
    <message>
        <source>French</source>
        <translation>Français</translation>
    </message>
    <message>
        <source>Arabic</source>
        <translation>Arabe</translation>
    </message>
    <message>
        <source>Portuguese</source>
        <translation>Portugais</translation>
    </message>
    <message>
        <source>Swahili</source>
        <translation>Swahili</translation>
    </message>
</context>
<context>
    <name>LibraryFileReason</name>
    <message>
        <source>the file is not there any more (moved or deleted outside ALU Desk)</source>
        <translation>le fichier n’est plus là (déplacé ou supprimé en dehors d’ALU Desk)</translation>
    </message>
    <message>
        <source>its folder is not there any more</source>
        <translation>son dossier n’est plus là</translation>
    </message>
    <message>
        <source>its folder cannot be read (permission denied)</source>
        <translation>son dossier ne peut pas être lu (permission refusée)</translation>
    </message>
    <message>
        <source>it cannot be reached (%1)</source>
        <translation>il est inaccessible (%1)</translation>
    </message>
    <message>
        <source>something else than a file is at its place</source>
        <translation>autre chose qu’un fichier est à sa place</translation>
    </message>
    <message>
        <source>its size changed from %1 to %2 bytes since it was verified</source>
        <translation>sa taille est passée de %1 à %2 octets depuis sa vérification</translation>
    </message>
    <message>
        <source>it was replaced or modified since it was downloaded (by another workstation sharing the folder, or by another program)</source>
        <translation>il a été remplacé ou modifié depuis son téléchargement (par un autre poste qui partage le dossier, ou par un autre programme)</translation>
    </message>
    <message>
        <source>its content is not the one verified (its checksum differs): the file is damaged</source>
        <translation>son contenu n’est pas celui qui a été vérifié (sa somme de contrôle diffère) : le fichier est endommagé</translation>
    </message>
    <message>
        <source>its record in the library is damaged; download it again</source>
        <translation>son enregistrement dans la bibliothèque est endommagé ; téléchargez-le à nouveau</translation>
    </message>
    <message>
        <source>something else than the downloaded file is at its place</source>
        <translation>autre chose que le fichier téléchargé est à sa place</translation>
    </message>
    <message>
        <source>its size changed from %1 to %2 bytes since it was downloaded</source>
        <translation>sa taille est passée de %1 à %2 octets depuis son téléchargement</translation>
    </message>
</context>
<context>
    <name>LibraryPanel</name>
    <message>
        <source>Copy to folder</source>
        <translation>Copier dans un dossier</translation>
    </message>
    <message>
        <source>Copy here</source>
        <translation>Copier ici</translation>
    </message>
    <message>
        <source>Could not copy to {folder}: {error}</source>
        <translation>Impossible de copier dans {folder} : {error}</translation>
    </message>
    <message numerus="yes">
        <source>%Ln files are the low-resolution proxy, their broadcast file not being on this workstation: {names}</source>
        <translation>
            <numerusform>%Ln fichier est le proxy basse résolution, son fichier de diffusion n’étant pas sur ce poste : {names}</numerusform>
            <numerusform>%Ln fichiers sont le proxy basse résolution, leur fichier de diffusion n’étant pas sur ce poste : {names}</numerusform>
        </translation>
    </message>
    <message>
        <source>Copy stopped: nothing was copied to {folder}</source>
        <translation>Copie arrêtée : rien n’a été copié dans {folder}</translation>
    </message>
    <message>
        <source>Delete local files</source>
        <translation>Supprimer les fichiers locaux</translation>
    </message>
    <message>
        <source>Delete the local file of “{title}”?</source>
        <translation>Supprimer le fichier local de « {title} » ?</translation>
    </message>
    <message numerus="yes">
        <source>Copied %Ln files to {folder}</source>
        <translation>
            <numerusform>%Ln fichier copié dans {folder}</numerusform>
            <numerusform>%Ln fichiers copiés dans {folder}</numerusform>
        </translation>
    </message>
    <message>
        <source>Select an item first.</source>
        <translation>Sélectionnez d’abord un sujet.</translation>
    </message>
    <message>
        <source>The folder {folder} is not there any more.</source>
        <translation>Le dossier {folder} n’est plus là.</translation>
    </message>
    <message>
        <source>No application of this workstation opened {name}.</source>
        <translation>Aucune application de ce poste n’a ouvert {name}.</translation>
    </message>
    <message numerus="yes">
        <source>Copied %Ln of {total} files to {folder}; not copied: {failed}</source>
        <translation>
            <numerusform>%Ln fichier sur {total} copié dans {folder} ; non copiés : {failed}</numerusform>
            <numerusform>%Ln fichiers sur {total} copiés dans {folder} ; non copiés : {failed}</numerusform>
        </translation>
    </message>
    <message numerus="yes">
        <source>Copy stopped: %Ln of {total} files copied to {folder}</source>
        <translation>
            <numerusform>Copie arrêtée : %Ln fichier sur {total} copié dans {folder}</numerusform>
            <numerusform>Copie arrêtée : %Ln fichiers sur {total} copiés dans {folder}</numerusform>
        </translation>
    </message>
    <message numerus="yes">
        <source>Delete the local files of %Ln items?</source>
        <translation>
            <numerusform>Supprimer le fichier local de %Ln sujet ?</numerusform>
            <numerusform>Supprimer les fichiers locaux de %Ln sujets ?</numerusform>
        </translation>
    </message>
    <message numerus="yes">
        <source>The %Ln items stay in the Feed and can be downloaded again there.</source>
        <translation>
            <numerusform>Le sujet reste dans le Fil et peut y être téléchargé à nouveau.</numerusform>
            <numerusform>Les %Ln sujets restent dans le Fil et peuvent y être téléchargés à nouveau.</numerusform>
        </translation>
    </message>
    <message>
        <source>Delete file</source>
        <translation>Supprimer le fichier</translation>
    </message>
    <message>
        <source>Keep</source>
        <translation>Conserver</translation>
    </message>
    <message>
        <source>Could not download “{title}”: {error}</source>
        <translation>Impossible de télécharger « {title} » : {error}</translation>
    </message>
    <message>
        <source>“{title}”: {name} was damaged (its checksum differs); it was deleted and a verified copy is being downloaded in its place.</source>
        <translation>«&#xa0;{title}&#xa0;» : {name} était endommagé (sa somme de contrôle diffère) ; il a été supprimé et une copie vérifiée est en cours de téléchargement à sa place.</translation>
    </message>
    <message>
        <source>“{title}”: {name} is the file that was downloaded and verified (its checksum matches); it was not downloaded again. Open file opens it with this workstation&apos;s own player.</source>
        <translation>«&#xa0;{title}&#xa0;» : {name} est le fichier téléchargé et vérifié (sa somme de contrôle correspond) ; il n’a pas été téléchargé à nouveau. Ouvrir le fichier l’ouvre avec le lecteur de ce poste.</translation>
    </message>
    <message>
        <source>Some files were not deleted: {reasons}</source>
        <translation>Certains fichiers n’ont pas été supprimés : {reasons}</translation>
    </message>
    <message>
        <source>Something went wrong: {error}</source>
        <translation>Un problème est survenu : {error}</translation>
    </message>
    <message>
        <source>&amp;Grid</source>
        <translation>&amp;Mosaïque</translation>
    </message>
    <message>
        <source>Show thumbnails</source>
        <translation>Afficher les vignettes</translation>
    </message>
    <message>
        <source>&amp;List</source>
        <translation>&amp;Liste</translation>
    </message>
    <message>
        <source>Show a table</source>
        <translation>Afficher un tableau</translation>
    </message>
    <message>
        <source>Show in &amp;folder</source>
        <translation>Afficher dans le &amp;dossier</translation>
    </message>
    <message>
        <source>Open the folder that holds the file, with the file selected</source>
        <translation>Ouvrir le dossier qui contient le fichier, le fichier sélectionné</translation>
    </message>
    <message>
        <source>Download again the files of the selected items that are missing or damaged (a file that cannot be played is checked first)</source>
        <translation>Télécharger à nouveau les fichiers manquants ou endommagés des sujets sélectionnés (un fichier illisible est d’abord vérifié)</translation>
    </message>
    <message>
        <source>&amp;Open file</source>
        <translation>&amp;Ouvrir le fichier</translation>
    </message>
    <message>
        <source>Open the file with this workstation&apos;s own player or editor</source>
        <translation>Ouvrir le fichier avec le lecteur ou l’éditeur de ce poste</translation>
    </message>
    <message>
        <source>&amp;Copy to…</source>
        <translation>&amp;Copier vers…</translation>
    </message>
    <message>
        <source>Copy the selected files to another folder</source>
        <translation>Copier les fichiers sélectionnés dans un autre dossier</translation>
    </message>
    <message>
        <source>&amp;Delete local file</source>
        <translation>&amp;Supprimer le fichier local</translation>
    </message>
    <message>
        <source>Delete the file from this workstation; the item stays in the library</source>
        <translation>Supprimer le fichier de ce poste ; le sujet reste dans la médiathèque</translation>
    </message>
    <message>
        <source>Download &amp;again</source>
        <translation>&amp;Télécharger à nouveau</translation>
    </message>
    <message>
        <source>Stop copying</source>
        <translation>Arrêter la copie</translation>
    </message>
    <message>
        <source>Copy progress</source>
        <translation>Progression de la copie</translation>
    </message>
    <message>
        <source>Library commands</source>
        <translation>Commandes de la médiathèque</translation>
    </message>
    <message>
        <source>Library thumbnails</source>
        <translation>Vignettes de la médiathèque</translation>
    </message>
    <message>
        <source>Library list</source>
        <translation>Liste de la médiathèque</translation>
    </message>
</context>
<context>
    <name>MainWindow</name>
    <message>
        <source>Add files to upload</source>
        <translation>Ajouter des fichiers à envoyer</translation>
    </message>
    <message>
        <source>Video files (*.mp4 *.mov *.mxf *.mkv *.avi *.m4v *.ts);;All files (*)</source>
        <translation>Fichiers vidéo (*.mp4 *.mov *.mxf *.mkv *.avi *.m4v *.ts);;Tous les fichiers (*)</translation>
    </message>
    <message>
        <source>Checking the hub for new items…</source>
        <translation>Recherche de nouveaux sujets sur le hub…</translation>
    </message>
    <message>
        <source>Sign out</source>
        <translation>Se déconnecter</translation>
    </message>
    <message>
        <source>Sign out of %1? Transfers stop until you sign in again; the library and the queue stay on this workstation.</source>
        <translation>Se déconnecter de %1 ? Les transferts s&apos;arrêtent jusqu&apos;à la prochaine connexion ; la médiathèque et la file d&apos;attente restent sur ce poste.</translation>
    </message>
    <message>
        <source>About ALU Desk</source>
        <translation>À propos d&apos;ALU Desk</translation>
    </message>
    <message>
        <source>&lt;h3&gt;ALU Desk %1&lt;/h3&gt;&lt;p&gt;News video between the Africa Link Union agency and its member broadcasters: the feed, resumable transfers, the library and the history.&lt;/p&gt;</source>
        <translation>&lt;h3&gt;ALU Desk %1&lt;/h3&gt;&lt;p&gt;La vidéo d&apos;actualité entre l&apos;agence de l&apos;Africa Link Union et ses diffuseurs membres : le fil, les transferts reprenables, la médiathèque et l&apos;historique.&lt;/p&gt;</translation>
    </message>
    <message>
        <source>Sign &amp;out</source>
        <translation>Se &amp;déconnecter</translation>
    </message>
    <message>
        <source>&amp;Stay signed in</source>
        <translation>&amp;Rester connecté</translation>
    </message>
    <message>
        <source>ALU Desk %1 is available (this workstation has %2). Ask your administrator or the agency for the installer.</source>
        <translation>ALU Desk %1 est disponible (ce poste a la version %2). Demandez le programme d&apos;installation à votre administrateur ou à l&apos;agence.</translation>
    </message>
    <message>
        <source>ALU Desk %1 is the current version.</source>
        <translation>ALU Desk %1 est la version actuelle.</translation>
    </message>
    <message>
        <source>Check for updates</source>
        <translation>Rechercher des mises à jour</translation>
    </message>
    <message>
        <source>Could not ask the hub for the current version: %1</source>
        <translation>Impossible de demander la version actuelle au hub : %1</translation>
    </message>
    <message>
        <source>ALU Desk</source>
        <translation>ALU Desk</translation>
    </message>
    <message>
        <source>%1 — %2</source>
        <translation>%1 — %2</translation>
    </message>
    <message>
        <source>%1 (Demo)</source>
        <translation>%1 (Démo)</translation>
    </message>
    <message>
        <source>Main sections</source>
        <translation>Sections principales</translation>
    </message>
    <message>
        <source>Feed</source>
        <translation>Fil</translation>
    </message>
    <message>
        <source>Feed (%1)</source>
        <translation>Fil (%1)</translation>
    </message>
    <message numerus="yes">
        <source>Library (⚠ %Ln withdrawn)</source>
        <translation>
            <numerusform>Médiathèque (⚠ %Ln retiré)</numerusform>
            <numerusform>Médiathèque (⚠ %Ln retirés)</numerusform>
        </translation>
    </message>
    <message>
        <source>Transfers</source>
        <translation>Transferts</translation>
    </message>
    <message>
        <source>Library</source>
        <translation>Médiathèque</translation>
    </message>
    <message>
        <source>History</source>
        <translation>Historique</translation>
    </message>
    <message>
        <source>Rule “%1” cannot download</source>
        <translation>La règle «&#xa0;%1&#xa0;» ne peut pas télécharger</translation>
    </message>
    <message>
        <source>%1; its items wait and are downloaded once the folder can be written.</source>
        <translation>%1 ; ses sujets attendent et seront téléchargés dès que le dossier pourra être écrit.</translation>
    </message>
    <message>
        <source>ALU Desk is still running</source>
        <translation>ALU Desk continue de tourner</translation>
    </message>
    <message>
        <source>Transfers go on. Quit from the tray icon&apos;s menu.</source>
        <translation>Les transferts continuent. Pour quitter, passez par le menu de l&apos;icône dans la zone de notification.</translation>
    </message>
</context>
<context>
    <name>MediaProblem</name>
    <message>
        <source>{name} was not found.</source>
        <translation>{name} est introuvable.</translation>
    </message>
    <message>
        <source>{name} could not be opened ({reason}).</source>
        <translation>Impossible d’ouvrir {name} ({reason}).</translation>
    </message>
    <message>
        <source>{name} is a folder, not a video file.</source>
        <translation>{name} est un dossier, pas un fichier vidéo.</translation>
    </message>
    <message>
        <source>{name} is empty (0 bytes).</source>
        <translation>{name} est vide (0 octet).</translation>
    </message>
    <message>
        <source>{name} is not a video file we can read ({reason}).</source>
        <translation>{name} n’est pas un fichier vidéo lisible ({reason}).</translation>
    </message>
    <message>
        <source>{name} has no picture or sound in it.</source>
        <translation>{name} ne contient ni image ni son.</translation>
    </message>
    <message>
        <source>{name} is a still picture, not a video file.</source>
        <translation>{name} est une image fixe, pas un fichier vidéo.</translation>
    </message>
    <message>
        <source>{name} has sound but no picture: it is not a video file.</source>
        <translation>{name} contient du son mais pas d’image : ce n’est pas un fichier vidéo.</translation>
    </message>
    <message>
        <source>{name} is incomplete: it stops before the end of its video (was the copy cut short?).</source>
        <translation>{name} est incomplet : il s’arrête avant la fin de sa vidéo (la copie a-t-elle été interrompue ?).</translation>
    </message>
    <message>
        <source>{name} could not be decoded ({reason}).</source>
        <translation>Impossible de décoder {name} ({reason}).</translation>
    </message>
    <message>
        <source>{name} has no picture to make a thumbnail from.</source>
        <translation>{name} ne contient aucune image pour en faire une vignette.</translation>
    </message>
    <message>
        <source>the picture could not be encoded as JPEG.</source>
        <translation>l’image n’a pas pu être encodée en JPEG.</translation>
    </message>
</context>
<context>
    <name>NetworkPage</name>
    <message>
        <source>&amp;Proxy:</source>
        <translation>&amp;Proxy :</translation>
    </message>
    <message>
        <source>none (e.g. http://proxy.newsroom.local:3128)</source>
        <translation>aucun (p. ex. http://proxy.newsroom.local:3128)</translation>
    </message>
    <message>
        <source>Proxy address</source>
        <translation>Adresse du proxy</translation>
    </message>
    <message>
        <source>Proxy user na&amp;me:</source>
        <translation>No&amp;m d’utilisateur du proxy :</translation>
    </message>
    <message>
        <source>only if the proxy asks for one</source>
        <translation>seulement si le proxy en demande un</translation>
    </message>
    <message>
        <source>Proxy user name</source>
        <translation>Nom d’utilisateur du proxy</translation>
    </message>
    <message>
        <source>Proxy pass&amp;word:</source>
        <translation>Mot de passe du pr&amp;oxy :</translation>
    </message>
    <message>
        <source>Proxy password</source>
        <translation>Mot de passe du proxy</translation>
    </message>
    <message>
        <source>&amp;CA bundle:</source>
        <translation>&amp;Certificats d’autorité :</translation>
    </message>
    <message>
        <source>the system&apos;s certificates</source>
        <translation>les certificats du système</translation>
    </message>
    <message>
        <source>CA bundle file</source>
        <translation>Fichier de certificats d’autorité</translation>
    </message>
    <message>
        <source>Choose the CA bundle file</source>
        <translation>Choisir le fichier de certificats d’autorité</translation>
    </message>
    <message>
        <source>Certificates (*.pem *.crt *.cer);;All files (*)</source>
        <translation>Certificats (*.pem *.crt *.cer);;Tous les fichiers (*)</translation>
    </message>
    <message>
        <source>Allow plain HTTP (no encryption)</source>
        <translation>Autoriser le HTTP simple (sans chiffrement)</translation>
    </message>
    <message>
        <source>Warning: over plain HTTP your password, your session and every file travel unencrypted; anyone on the network path can read or change them. Use it only for a hub on your own local network.</source>
        <translation>Attention : en HTTP simple, votre mot de passe, votre session et chaque fichier circulent sans chiffrement ; n’importe qui sur le trajet réseau peut les lire ou les modifier. À n’utiliser que pour un hub de votre propre réseau local.</translation>
    </message>
    <message>
        <source>Changes to the network settings take effect the next time ALU Desk starts.</source>
        <translation>Les modifications des réglages réseau prennent effet au prochain lancement d’ALU Desk.</translation>
    </message>
    <message>
        <source>For the hub profile {name}</source>
        <translation>Pour le profil de hub {name}</translation>
    </message>
    <message>
        <source>Sign in to a hub to set how it is reached.</source>
        <translation>Connectez-vous à un hub pour régler la façon de le joindre.</translation>
    </message>
    <message>
        <source>kept in the keyring (type a new one to change it)</source>
        <translation>gardé dans le trousseau (tapez-en un nouveau pour le changer)</translation>
    </message>
    <message>
        <source>Give the proxy&apos;s address alone here, and its user name and password in the fields below: they are kept in the system keyring, not with the profile.</source>
        <translation>Indiquez ici l’adresse du proxy seule, et son nom d’utilisateur et son mot de passe dans les champs ci-dessous : ils sont gardés dans le trousseau du système, pas avec le profil.</translation>
    </message>
    <message>
        <source>“{text}” is not a proxy address; write it like http://proxy.newsroom.local:3128.</source>
        <translation>« {text} » n’est pas une adresse de proxy ; écrivez-la comme http://proxy.newsroom.local:3128.</translation>
    </message>
    <message>
        <source>The proxy&apos;s user name and password could not be kept: {why}</source>
        <translation>Le nom d’utilisateur et le mot de passe du proxy n’ont pas pu être gardés : {why}</translation>
    </message>
    <message>
        <source>There is no file at this path.</source>
        <translation>Aucun fichier à cet emplacement.</translation>
    </message>
    <message>
        <source>This file holds no certificate ALU Desk can read; a CA bundle is a PEM file (text starting with -----BEGIN CERTIFICATE-----).</source>
        <translation>Ce fichier ne contient aucun certificat lisible par ALU Desk ; un fichier de certificats d’autorité est au format PEM (texte commençant par -----BEGIN CERTIFICATE-----).</translation>
    </message>
</context>
<context>
    <name>OsError</name>
    <message>
        <source>Permission denied</source>
        <translation>Permission refusée</translation>
    </message>
    <message>
        <source>Operation not permitted</source>
        <translation>Opération non autorisée</translation>
    </message>
    <message>
        <source>No such file or directory</source>
        <translation>Aucun fichier ou dossier de ce nom</translation>
    </message>
    <message>
        <source>No space left on device</source>
        <translation>Plus d’espace libre sur le disque</translation>
    </message>
    <message>
        <source>Read-only file system</source>
        <translation>Système de fichiers en lecture seule</translation>
    </message>
    <message>
        <source>File exists</source>
        <translation>Le fichier existe déjà</translation>
    </message>
    <message>
        <source>Not a directory</source>
        <translation>Ce n’est pas un dossier</translation>
    </message>
    <message>
        <source>Is a directory</source>
        <translation>C&apos;est un dossier</translation>
    </message>
    <message>
        <source>File name too long</source>
        <translation>Nom de fichier trop long</translation>
    </message>
    <message>
        <source>Input/output error</source>
        <translation>Erreur d’entrée/sortie</translation>
    </message>
    <message>
        <source>Device or resource busy</source>
        <translation>Périphérique ou ressource occupé</translation>
    </message>
    <message>
        <source>Resource busy</source>
        <translation>Ressource occupée</translation>
    </message>
    <message>
        <source>Disk quota exceeded</source>
        <translation>Quota de disque dépassé</translation>
    </message>
    <message>
        <source>Disc quota exceeded</source>
        <translation>Quota de disque dépassé</translation>
    </message>
    <message>
        <source>Too many open files</source>
        <translation>Trop de fichiers ouverts</translation>
    </message>
    <message>
        <source>Directory not empty</source>
        <translation>Le dossier n’est pas vide</translation>
    </message>
    <message>
        <source>Invalid argument</source>
        <translation>Argument non valide</translation>
    </message>
    <message>
        <source>Stale file handle</source>
        <translation>Descripteur de fichier périmé (partage réseau)</translation>
    </message>
    <message>
        <source>Too many levels of symbolic links</source>
        <translation>Trop de niveaux de liens symboliques</translation>
    </message>
    <message>
        <source>Access is denied</source>
        <translation>Accès refusé</translation>
    </message>
    <message>
        <source>The system cannot find the file specified</source>
        <translation>Le fichier indiqué est introuvable</translation>
    </message>
    <message>
        <source>The system cannot find the path specified</source>
        <translation>Le chemin indiqué est introuvable</translation>
    </message>
    <message>
        <source>There is not enough space on the disk</source>
        <translation>Il n’y a pas assez d’espace sur le disque</translation>
    </message>
    <message>
        <source>The process cannot access the file because it is being used by another process</source>
        <translation>Le fichier est utilisé par un autre programme</translation>
    </message>
    <message>
        <source>The filename, directory name, or volume label syntax is incorrect</source>
        <translation>Le nom de fichier, de dossier ou de volume est incorrect</translation>
    </message>
    <message>
        <source>The media is write protected</source>
        <translation>Le support est protégé en écriture</translation>
    </message>
    <message>
        <source>The network path was not found</source>
        <translation>Le chemin réseau est introuvable</translation>
    </message>
</context>
<context>
    <name>PathField</name>
    <message>
        <source>Browse…</source>
        <translation>Parcourir…</translation>
    </message>
    <message>
        <source>Choose</source>
        <translation>Choisir</translation>
    </message>
</context>
<context>
    <name>PlayerWidget</name>
    <message>
        <source>This file is no longer on the disk; it may have been moved or deleted.</source>
        <translation>Ce fichier n’est plus sur le disque ; il a peut-être été déplacé ou supprimé.</translation>
    </message>
    <message>
        <source>This file cannot be played here; it is still in the library.</source>
        <translation>Ce fichier ne peut pas être lu ici ; il reste dans la médiathèque.</translation>
    </message>
    <message>
        <source>Pause</source>
        <translation>Pause</translation>
    </message>
    <message>
        <source>Play</source>
        <translation>Lire</translation>
    </message>
    <message>
        <source>Pause (Space)</source>
        <translation>Pause (Espace)</translation>
    </message>
    <message>
        <source>Play (Space)</source>
        <translation>Lire (Espace)</translation>
    </message>
    <message>
        <source>Broadcast</source>
        <translation>Diffusion</translation>
    </message>
    <message>
        <source>Playing the broadcast file {name}</source>
        <extracomment>the tooltip of the player&apos;s &quot;Broadcast&quot; label: the file it plays</extracomment>
        <translation>Lecture du fichier de diffusion {name}</translation>
    </message>
    <message>
        <source>Proxy</source>
        <translation>Proxy</translation>
    </message>
    <message>
        <source>Playing the proxy file {name}</source>
        <extracomment>the tooltip of the player&apos;s &quot;Proxy&quot; label: the small preview file it plays</extracomment>
        <translation>Lecture du fichier proxy {name}</translation>
    </message>
    <message>
        <source>Playing the file {name}</source>
        <translation>Lecture du fichier {name}</translation>
    </message>
    <message>
        <source>Previous frame</source>
        <translation>Image précédente</translation>
    </message>
    <message>
        <source>Previous frame (,)</source>
        <translation>Image précédente (,)</translation>
    </message>
    <message>
        <source>Next frame</source>
        <translation>Image suivante</translation>
    </message>
    <message>
        <source>Next frame (.)</source>
        <translation>Image suivante (.)</translation>
    </message>
    <message>
        <source>Mute</source>
        <translation>Couper le son</translation>
    </message>
    <message>
        <source>Sound on or off (M)</source>
        <translation>Activer ou couper le son (M)</translation>
    </message>
    <message>
        <source>Full screen</source>
        <translation>Plein écran</translation>
    </message>
    <message>
        <source>Leave full screen (Esc)</source>
        <translation>Quitter le plein écran (Échap)</translation>
    </message>
    <message>
        <source>Full screen (F)</source>
        <translation>Plein écran (F)</translation>
    </message>
    <message>
        <source>Position in the clip</source>
        <translation>Position dans le sujet</translation>
    </message>
    <message>
        <source>Time played</source>
        <translation>Temps écoulé</translation>
    </message>
    <message>
        <source>Length of the clip</source>
        <translation>Durée du sujet</translation>
    </message>
    <message>
        <source>Volume</source>
        <translation>Volume</translation>
    </message>
    <message>
        <source>Volume (no sound device found)</source>
        <translation>Volume (aucune sortie audio trouvée)</translation>
    </message>
    <message>
        <source>Picture</source>
        <translation>Image</translation>
    </message>
    <message>
        <source>Player</source>
        <translation>Lecteur</translation>
    </message>
</context>
<context>
    <name>QGnomeTheme</name>
    <message>
        <source>&amp;Cancel</source>
        <translation>&amp;Annuler</translation>
    </message>
</context>
<context>
    <name>QPlatformTheme</name>
    <message>
        <source>Cancel</source>
        <translation>Annuler</translation>
    </message>
</context>
<context>
    <name>QShortcut</name>
    <message>
        <source>Space</source>
        <translation>Espace</translation>
    </message>
    <message>
        <source>Del</source>
        <translation>Suppr</translation>
    </message>
    <message>
        <source>Home</source>
        <translation>Début</translation>
    </message>
    <message>
        <source>End</source>
        <translation>Fin</translation>
    </message>
    <message>
        <source>Up</source>
        <translation>Haut</translation>
    </message>
    <message>
        <source>Down</source>
        <translation>Bas</translation>
    </message>
</context>
<context>
    <name>RuleDialog</name>
    <message>
        <source>Edit rule</source>
        <translation>Modifier la règle</translation>
    </message>
    <message>
        <source>New rule</source>
        <translation>Nouvelle règle</translation>
    </message>
    <message>
        <source>any</source>
        <translation>toutes</translation>
    </message>
    <message>
        <source>&amp;Name:</source>
        <translation>&amp;Nom :</translation>
    </message>
    <message>
        <source>Rule name</source>
        <translation>Nom de la règle</translation>
    </message>
    <message>
        <source>Rule on</source>
        <translation>Règle active</translation>
    </message>
    <message>
        <source>Items that match every condition filled in:</source>
        <translation>Sujets qui remplissent toutes les conditions indiquées :</translation>
    </message>
    <message>
        <source>Categories:</source>
        <translation>Rubriques :</translation>
    </message>
    <message>
        <source>Categories</source>
        <translation>Rubriques</translation>
    </message>
    <message>
        <source>Regions:</source>
        <translation>Régions :</translation>
    </message>
    <message>
        <source>Regions</source>
        <translation>Régions</translation>
    </message>
    <message>
        <source>Countries:</source>
        <translation>Pays :</translation>
    </message>
    <message>
        <source>Countries (two-letter codes)</source>
        <translation>Pays (codes de deux lettres)</translation>
    </message>
    <message>
        <source>any (e.g. KE, SN)</source>
        <translation>tous (p. ex. KE, SN)</translation>
    </message>
    <message>
        <source>Languages:</source>
        <translation>Langues :</translation>
    </message>
    <message>
        <source>Priorities:</source>
        <translation>Priorités :</translation>
    </message>
    <message>
        <source>Words:</source>
        <translation>Mots :</translation>
    </message>
    <message>
        <source>Words or phrases</source>
        <translation>Mots ou expressions</translation>
    </message>
    <message>
        <source>any (e.g. ONU, élection*)</source>
        <translation>tous (p. ex. ONU, élection*)</translation>
    </message>
    <message>
        <source>Whole words, whatever the case and accents: UN does not find “une”. End a word with * for the words that begin with it: vote* finds “voters”.</source>
        <translation>Des mots entiers, quelles que soient la casse et les accents : UN ne trouve pas «&#xa0;une&#xa0;». Terminez un mot par * pour les mots qui commencent ainsi : vote* trouve «&#xa0;votes&#xa0;».</translation>
    </message>
    <message>
        <source>What to download</source>
        <translation>Ce qu’il faut télécharger</translation>
    </message>
    <message>
        <source>&amp;Download:</source>
        <translation>&amp;Télécharger :</translation>
    </message>
    <message>
        <source>Destination folder</source>
        <translation>Dossier de destination</translation>
    </message>
    <message>
        <source>the download folder</source>
        <translation>le dossier de téléchargement</translation>
    </message>
    <message>
        <source>&amp;To folder:</source>
        <translation>&amp;Vers le dossier :</translation>
    </message>
    <message>
        <source>“{code}” (no item is in it)</source>
        <translation>«&#xa0;{code}&#xa0;» (aucun sujet dans cette langue)</translation>
    </message>
    <message>
        <source>Give the rule a name.</source>
        <translation>Donnez un nom à la règle.</translation>
    </message>
    <message>
        <source>A rule&apos;s name is at most 100 characters.</source>
        <translation>Le nom d’une règle compte au plus 100 caractères.</translation>
    </message>
    <message>
        <source>Another rule is already named “{name}”.</source>
        <translation>Une autre règle s’appelle déjà « {name} ».</translation>
    </message>
    <message>
        <source>Countries are two-letter codes separated by commas, like KE, SN.</source>
        <translation>Les pays sont des codes de deux lettres séparés par des virgules, comme KE, SN.</translation>
    </message>
    <message>
        <source>“{code}” is not a language of the hub&apos;s items: this rule takes no item. Untick it and tick English, French or Arabic (none ticked: any language).</source>
        <translation>«&#xa0;{code}&#xa0;» n’est pas une langue des sujets du hub : cette règle ne prend aucun sujet. Décochez-la et cochez anglais, français ou arabe (aucune cochée : toutes les langues).</translation>
    </message>
    <message>
        <source>“{word}” has no letters or digits to look for.</source>
        <translation>« {word} » ne contient ni lettre ni chiffre à rechercher.</translation>
    </message>
</context>
<context>
    <name>RulesModel</name>
    <message>
        <source>Name</source>
        <translation>Nom</translation>
    </message>
    <message>
        <source>On</source>
        <translation>Active</translation>
    </message>
    <message>
        <source>Conditions</source>
        <translation>Conditions</translation>
    </message>
    <message>
        <source>Action</source>
        <translation>Action</translation>
    </message>
    <message>
        <source>Destination</source>
        <translation>Destination</translation>
    </message>
    <message numerus="yes">
        <source>⚠ %1 — cannot be written; %Ln items waiting</source>
        <translation>
            <numerusform>⚠ %1 — écriture impossible ; %Ln sujet en attente</numerusform>
            <numerusform>⚠ %1 — écriture impossible ; %Ln sujets en attente</numerusform>
        </translation>
    </message>
    <message>
        <source>Download folder</source>
        <translation>Dossier de téléchargement</translation>
    </message>
    <message>
        <source>Rule on</source>
        <translation>Règle active</translation>
    </message>
    <message>
        <source>Rule off</source>
        <translation>Règle inactive</translation>
    </message>
    <message>
        <source>Broadcast file</source>
        <translation>Fichier de diffusion</translation>
    </message>
    <message>
        <source>Proxy (preview) file</source>
        <translation>Fichier proxy (aperçu)</translation>
    </message>
    <message>
        <source>Proxy first, then broadcast</source>
        <translation>Proxy d’abord, puis diffusion</translation>
    </message>
    <message>
        <source>Every new item</source>
        <translation>Tous les nouveaux sujets</translation>
    </message>
    <message>
        <source>Category: {values}</source>
        <translation>Rubrique : {values}</translation>
    </message>
    <message>
        <source>Region: {values}</source>
        <translation>Région : {values}</translation>
    </message>
    <message>
        <source>Country: {values}</source>
        <translation>Pays : {values}</translation>
    </message>
    <message>
        <source>Language: {values}</source>
        <translation>Langue : {values}</translation>
    </message>
    <message>
        <source>Priority: {values}</source>
        <translation>Priorité : {values}</translation>
    </message>
    <message>
        <source>, </source>
        <extracomment>between the values of one condition, any of which matches: &quot;French, Arabic&quot;</extracomment>
        <translation>, </translation>
    </message>
    <message>
        <source>“{word}”</source>
        <translation>« {word} »</translation>
    </message>
    <message>
        <source>Words: {values}</source>
        <translation>Mots : {values}</translation>
    </message>
    <message>
        <source>; </source>
        <translation> ; </translation>
    </message>
</context>
<context>
    <name>RulesPage</name>
    <message>
        <source>New items are checked against the rules from the top: the first rule that is on and matches downloads the item. Items older than a day are never downloaded by a rule.</source>
        <translation>Les nouveaux sujets sont comparés aux règles de haut en bas : la première règle active qui correspond télécharge le sujet. Une règle ne télécharge jamais un sujet vieux de plus d’un jour.</translation>
    </message>
    <message>
        <source>Sign in to a hub to set up automatic downloads.</source>
        <translation>Connectez-vous à un hub pour régler les téléchargements automatiques.</translation>
    </message>
    <message>
        <source>Since this update, the words of your saved rules match whole words: UN no longer finds “une”. A * at the end of a word finds the words that begin with it: vote* finds “voters”. Your saved words were given a * to find what they found before, except acronyms and words of fewer than four letters: check your rules.</source>
        <translation>Depuis cette mise à jour, les mots de vos règles enregistrées désignent des mots entiers : UN ne trouve plus « une ». Un * à la fin d’un mot trouve les mots qui commencent par lui : vote* trouve « voters ». Vos mots enregistrés ont reçu un * pour trouver ce qu’ils trouvaient avant, sauf les sigles et les mots de moins de quatre lettres : vérifiez vos règles.</translation>
    </message>
    <message>
        <source>Auto-download rules</source>
        <translation>Règles de téléchargement automatique</translation>
    </message>
    <message>
        <source>&amp;Add…</source>
        <translation>&amp;Ajouter…</translation>
    </message>
    <message>
        <source>&amp;Edit…</source>
        <translation>&amp;Modifier…</translation>
    </message>
    <message>
        <source>&amp;Remove</source>
        <translation>&amp;Supprimer</translation>
    </message>
    <message>
        <source>Move &amp;up</source>
        <translation>Monter (&amp;h)</translation>
    </message>
    <message>
        <source>Move do&amp;wn</source>
        <translation>Descendre (&amp;b)</translation>
    </message>
    <message>
        <source>The rules were changed by another program (such as alu rules in a terminal) while Settings was open. Here they are again as they are now, with your other changes; nothing was saved yet. Check them and press OK again.</source>
        <translation>Les règles ont été modifiées par un autre programme (comme alu rules dans un terminal) pendant que les Réglages étaient ouverts. Les voici telles qu’elles sont maintenant, avec vos autres modifications ; rien n’a encore été enregistré. Vérifiez-les et appuyez de nouveau sur OK.</translation>
    </message>
    <message>
        <source>“{name}” was removed meanwhile: your changes to it are lost.</source>
        <translation>«&#xa0;{name}&#xa0;» a été supprimée entre-temps : vos modifications de cette règle sont perdues.</translation>
    </message>
    <message>
        <source>“{name}” was changed meanwhile: it is shown as it is now; make your changes to it again.</source>
        <translation>«&#xa0;{name}&#xa0;» a été modifiée entre-temps : elle est affichée telle qu’elle est maintenant ; refaites-y vos modifications.</translation>
    </message>
    <message>
        <source>A rule named “{name}” was added meanwhile: rename yours.</source>
        <translation>Une règle nommée «&#xa0;{name}&#xa0;» a été ajoutée entre-temps : renommez la vôtre.</translation>
    </message>
    <message>
        <source>Turn &amp;off</source>
        <translation>&amp;Désactiver</translation>
    </message>
    <message>
        <source>Turn o&amp;n</source>
        <translation>Act&amp;iver</translation>
    </message>
    <message>
        <source>Remove rule</source>
        <translation>Supprimer la règle</translation>
    </message>
    <message numerus="yes">
        <source>The rule %1 has %Ln downloads that have not finished. Cancel them with the rule, or let them finish?</source>
        <translation>
            <numerusform>La règle %1 a %Ln téléchargement qui n’est pas terminé. L’annuler avec la règle, ou le laisser finir ?</numerusform>
            <numerusform>La règle %1 a %Ln téléchargements qui ne sont pas terminés. Les annuler avec la règle, ou les laisser finir ?</numerusform>
        </translation>
    </message>
    <message>
        <source>Turn off rule</source>
        <translation>Désactiver la règle</translation>
    </message>
    <message numerus="yes">
        <source>The rule %1 has %Ln downloads that have not finished. Turning it off does not stop them: cancel them, or let them finish?</source>
        <translation>
            <numerusform>La règle %1 a %Ln téléchargement qui n’est pas terminé. La désactiver ne l’arrête pas : l’annuler, ou le laisser finir ?</numerusform>
            <numerusform>La règle %1 a %Ln téléchargements qui ne sont pas terminés. La désactiver ne les arrête pas : les annuler, ou les laisser finir ?</numerusform>
        </translation>
    </message>
    <message>
        <source>Cancel leaves the rule on.</source>
        <translation>Annuler laisse la règle active.</translation>
    </message>
    <message numerus="yes">
        <source>Cancel its %Ln downloads</source>
        <translation>
            <numerusform>Annuler son téléchargement</numerusform>
            <numerusform>Annuler ses %Ln téléchargements</numerusform>
        </translation>
    </message>
    <message>
        <source>Let them finish</source>
        <translation>Les laisser finir</translation>
    </message>
</context>
<context>
    <name>ScheduleModel</name>
    <message>
        <source>Days</source>
        <translation>Jours</translation>
    </message>
    <message>
        <source>From</source>
        <translation>De</translation>
    </message>
    <message>
        <source>To</source>
        <translation>À</translation>
    </message>
    <message>
        <source>Down</source>
        <translation>Réception</translation>
    </message>
    <message>
        <source>Up</source>
        <translation>Envoi</translation>
    </message>
    <message>
        <source>{time} next day</source>
        <translation>{time} le lendemain</translation>
    </message>
    <message>
        <source>Unlimited</source>
        <translation>Illimité</translation>
    </message>
</context>
<context>
    <name>ScheduleRuleDialog</name>
    <message>
        <source>Bandwidth period</source>
        <translation>Plage de débit</translation>
    </message>
    <message>
        <source>From</source>
        <translation>De</translation>
    </message>
    <message>
        <source>To (00:00 is midnight)</source>
        <translation>À (00:00 = minuit)</translation>
    </message>
    <message>
        <source>Download limit in this period</source>
        <translation>Limite de réception dans cette plage</translation>
    </message>
    <message>
        <source>Upload limit in this period</source>
        <translation>Limite d’envoi dans cette plage</translation>
    </message>
    <message>
        <source>unlimited</source>
        <translation>illimité</translation>
    </message>
    <message>
        <source>Days:</source>
        <translation>Jours :</translation>
    </message>
    <message>
        <source>From:</source>
        <translation>De :</translation>
    </message>
    <message>
        <source>To:</source>
        <translation>À :</translation>
    </message>
    <message>
        <source>Download limit:</source>
        <translation>Limite de réception :</translation>
    </message>
    <message>
        <source>Upload limit:</source>
        <translation>Limite d’envoi :</translation>
    </message>
    <message>
        <source>From and To are the same: this period lasts a whole day, 24 hours.</source>
        <translation>«&#xa0;De&#xa0;» et «&#xa0;À&#xa0;» sont identiques&#xa0;: cette plage dure une journée entière, 24&#xa0;heures.</translation>
    </message>
    <message>
        <source>A period that ends before it starts runs past midnight.</source>
        <translation>Une plage qui se termine avant son début continue après minuit.</translation>
    </message>
    <message>
        <source>Tick at least one day.</source>
        <translation>Cochez au moins un jour.</translation>
    </message>
</context>
<context>
    <name>SentElsewhereModel</name>
    <message>
        <source>File</source>
        <translation>Fichier</translation>
    </message>
    <message>
        <source>Status</source>
        <translation>État</translation>
    </message>
    <message>
        <source>Since</source>
        <translation>Depuis</translation>
    </message>
</context>
<context>
    <name>SettingsDialog</name>
    <message>
        <source>Settings</source>
        <translation>Réglages</translation>
    </message>
    <message>
        <source>General</source>
        <translation>Général</translation>
    </message>
    <message>
        <source>Transfers</source>
        <translation>Transferts</translation>
    </message>
    <message>
        <source>Auto-download</source>
        <translation>Téléchargement auto</translation>
    </message>
    <message>
        <source>Hot folders</source>
        <translation>Dossiers surveillés</translation>
    </message>
    <message>
        <source>Network</source>
        <translation>Réseau</translation>
    </message>
    <message>
        <source>Settings pages</source>
        <translation>Pages des réglages</translation>
    </message>
    <message>
        <source>The settings could not be read or saved: {error}</source>
        <translation>Impossible de lire ou d’enregistrer les réglages : {error}</translation>
    </message>
</context>
<context>
    <name>SettingsFields</name>
    <message>
        <source>“{text}” is not a speed; write e.g. {megabits}, {kilobits} or {megabytes}, or leave it empty for no limit.</source>
        <translation>« {text} » n’est pas un débit ; écrivez p. ex. {megabits}, {kilobits} ou {megabytes}, ou laissez vide pour ne pas limiter.</translation>
    </message>
    <message>
        <source>“{text}” is too slow to move a file; write at least {floor}, or leave it empty for no limit.</source>
        <translation>« {text} » est trop lent pour transférer un fichier ; écrivez au moins {floor}, ou laissez vide pour ne pas limiter.</translation>
    </message>
</context>
<context>
    <name>ShellActions</name>
    <message>
        <source>&amp;Add files…</source>
        <translation>&amp;Ajouter des fichiers…</translation>
    </message>
    <message>
        <source>Choose video files to upload</source>
        <translation>Choisir des fichiers vidéo à envoyer</translation>
    </message>
    <message>
        <source>&amp;Settings…</source>
        <translation>&amp;Réglages…</translation>
    </message>
    <message>
        <source>Folders, limits, rules, language</source>
        <translation>Dossiers, limites, règles, langue</translation>
    </message>
    <message>
        <source>&amp;Pause all</source>
        <translation>Tout &amp;suspendre</translation>
    </message>
    <message>
        <source>Pause every transfer</source>
        <translation>Mettre en pause tous les transferts</translation>
    </message>
    <message>
        <source>&amp;Resume all</source>
        <translation>Tout &amp;reprendre</translation>
    </message>
    <message>
        <source>Resume every paused transfer</source>
        <translation>Reprendre tous les transferts en pause</translation>
    </message>
    <message>
        <source>S&amp;ync now</source>
        <translation>S&amp;ynchroniser maintenant</translation>
    </message>
    <message>
        <source>Ask the hub for new items now</source>
        <translation>Demander dès maintenant les nouveaux sujets au hub</translation>
    </message>
    <message>
        <source>Sign &amp;in…</source>
        <translation>Se &amp;connecter…</translation>
    </message>
    <message>
        <source>Sign in to the hub again; the transfers under way go on</source>
        <translation>Se reconnecter au hub&#x202f;; les transferts en cours continuent</translation>
    </message>
    <message>
        <source>Sign &amp;out…</source>
        <translation>Se &amp;déconnecter…</translation>
    </message>
    <message>
        <source>Sign out of the hub</source>
        <translation>Se déconnecter du hub</translation>
    </message>
    <message>
        <source>&amp;Quit</source>
        <translation>&amp;Quitter</translation>
    </message>
    <message>
        <source>Stop the transfers and quit</source>
        <translation>Arrêter les transferts et quitter</translation>
    </message>
    <message>
        <source>&amp;About ALU Desk</source>
        <translation>À &amp;propos d&apos;ALU Desk</translation>
    </message>
    <message>
        <source>Check for &amp;updates</source>
        <translation>Rechercher des mises à &amp;jour</translation>
    </message>
    <message>
        <source>Ask the hub</source>
        <translation>Demander au hub</translation>
    </message>
    <message>
        <source>&amp;Feed</source>
        <translation>&amp;Fil</translation>
    </message>
    <message>
        <source>&amp;Transfers</source>
        <translation>&amp;Transferts</translation>
    </message>
    <message>
        <source>&amp;Library</source>
        <translation>&amp;Médiathèque</translation>
    </message>
    <message>
        <source>&amp;History</source>
        <translation>&amp;Historique</translation>
    </message>
    <message>
        <source>&amp;File</source>
        <translation>&amp;Fichier</translation>
    </message>
    <message>
        <source>&amp;View</source>
        <translation>&amp;Affichage</translation>
    </message>
    <message>
        <source>T&amp;ools</source>
        <translation>&amp;Outils</translation>
    </message>
    <message>
        <source>&amp;Help</source>
        <translation>Ai&amp;de</translation>
    </message>
    <message>
        <source>Main toolbar</source>
        <translation>Barre d&apos;outils principale</translation>
    </message>
</context>
<context>
    <name>SignInDialog</name>
    <message>
        <source>The hub has not answered yet; trying again…</source>
        <translation>Le hub n’a pas encore répondu ; nouvel essai…</translation>
    </message>
    <message>
        <source>Has the hub moved?</source>
        <translation>Le hub a-t-il changé d’adresse ?</translation>
    </message>
    <message>
        <source>This workstation&apos;s library, transfers and history are with the hub at {old}. Is {new} the same hub at a new address?</source>
        <translation>La médiathèque, les transferts et l’historique de ce poste sont liés au hub {old}. {new} est-il le même hub à une nouvelle adresse ?</translation>
    </message>
    <message>
        <source>If it moved, they go with it: transfers not yet done go on at the new address. The transfers stop for the sign-in and start again after it.</source>
        <translation>S’il a changé d’adresse, ils le suivent : les transferts inachevés continuent à la nouvelle adresse. Les transferts s’arrêtent pendant la connexion et reprennent ensuite.</translation>
    </message>
    <message>
        <source>Same hub, new address</source>
        <translation>Même hub, nouvelle adresse</translation>
    </message>
    <message>
        <source>Another hub</source>
        <translation>Un autre hub</translation>
    </message>
    <message>
        <source>This is another hub (its identity differs): {new} is not the hub at {old}. You are signed in to it as another hub; nothing of this workstation&apos;s library, transfers or history went there. The transfers for {old} wait until you sign in there again.</source>
        <translation>C’est un autre hub (son identité diffère)&#x202f;: {new} n’est pas le hub de {old}. Vous y êtes connecté comme à un autre hub&#x202f;; rien de la médiathèque, des transferts ni de l’historique de ce poste n’y est allé. Les transferts pour {old} attendent que vous vous y reconnectiez.</translation>
    </message>
    <message>
        <source>The hub at {url} is not the one this workstation knew there: it was rebuilt with a new database, or another hub took its place. Its feed is read from the start. Downloads not done yet were stopped, as their items were on the hub before (download them again from the feed if the new hub has them); uploads not done yet start again from the beginning on the new hub; history not sent yet stays on this workstation only. The files in your library stay as they are.</source>
        <translation>Le hub à {url} n’est pas celui que ce poste y connaissait : il a été reconstruit avec une nouvelle base de données, ou un autre hub a pris sa place. Son fil est lu depuis le début. Les téléchargements pas encore terminés ont été arrêtés, car leurs sujets étaient sur l’ancien hub (téléchargez-les à nouveau depuis le fil si le nouveau hub les a) ; les envois pas encore terminés reprennent depuis le début sur le nouveau hub ; l’historique pas encore envoyé reste sur ce poste seulement. Les fichiers de votre médiathèque restent tels quels.</translation>
    </message>
    <message>
        <source>Another hub at this address</source>
        <translation>Un autre hub à cette adresse</translation>
    </message>
    <message>
        <source>Use the hub&apos;s https:// address, or allow plain HTTP.</source>
        <translation>Utilisez l&apos;adresse https:// du hub, ou autorisez le HTTP non chiffré.</translation>
    </message>
    <message>
        <source>The sign-in was not kept. Install a system keyring, then sign in again.</source>
        <translation>La connexion n&apos;a pas été conservée. Installez un trousseau de clés système, puis reconnectez-vous.</translation>
    </message>
    <message>
        <source>The hub at this address is another hub now, and this workstation&apos;s transfers must be made its own, but another ALU Desk (or alu watch run) is at work on them: close it, then sign in again.</source>
        <translation>Le hub à cette adresse est désormais un autre hub, et les transferts de ce poste doivent lui être rattachés, mais un autre ALU Desk (ou alu watch run) y travaille : fermez-le, puis reconnectez-vous.</translation>
    </message>
    <message>
        <source>Another ALU Desk (or alu watch run) is at work on this workstation&apos;s transfers: close it, then sign in again to move to the new address.</source>
        <translation>Un autre ALU Desk (ou alu watch run) travaille sur les transferts de ce poste : fermez-le, puis reconnectez-vous pour passer à la nouvelle adresse.</translation>
    </message>
    <message>
        <source>The hub refused the user name or password.</source>
        <translation>Le hub a refusé le nom d&apos;utilisateur ou le mot de passe.</translation>
    </message>
    <message>
        <source>The security certificate of the network&apos;s proxy{proxy} could not be checked. If your organisation uses its own certificate authority, add it to the system&apos;s certificate store, or choose a CA bundle under Advanced that holds it and the hub&apos;s authority.</source>
        <translation>Le certificat de sécurité du proxy du réseau{proxy} n’a pas pu être vérifié. Si votre organisation a sa propre autorité de certification, ajoutez-la au magasin de certificats du système, ou choisissez sous Avancé un paquet de certificats (CA bundle) qui la contient avec celle du hub.</translation>
    </message>
    <message>
        <source>The hub&apos;s security certificate was refused (%1). If your organisation uses its own certificate authority, choose its CA bundle under Advanced.</source>
        <translation>Le certificat de sécurité du hub a été refusé (%1). Si votre organisation utilise sa propre autorité de certification, choisissez son fichier de certificats dans les réglages avancés.</translation>
    </message>
    <message>
        <source>The hub&apos;s security certificate could not be checked. If your organisation uses its own certificate authority, choose its CA bundle under Advanced.</source>
        <translation>Le certificat de sécurité du hub n’a pas pu être vérifié. Si votre organisation utilise sa propre autorité de certification, choisissez son fichier de certificats dans les réglages avancés.</translation>
    </message>
    <message>
        <source>The hub did not answer in TLS (https) at this address: is its port one for plain http (then the address begins with http://), or is a network login page in the way? Check the hub&apos;s address.</source>
        <translation>Le hub n’a pas répondu en TLS (https) à cette adresse : son port est-il celui du http simple (l’adresse commence alors par http://), ou une page de connexion au réseau est-elle en travers ? Vérifiez l’adresse du hub.</translation>
    </message>
    <message>
        <source>The network&apos;s proxy{proxy} wants a user name and password, or did not take the ones given. Give them under Advanced, with the proxy&apos;s address (they are kept in the system keyring), or ask the network&apos;s administrator to let this computer through without one.</source>
        <translation>Le proxy du réseau{proxy} demande un nom d’utilisateur et un mot de passe, ou n’a pas accepté ceux donnés. Indiquez-les dans les réglages avancés, avec l’adresse du proxy (ils sont gardés dans le trousseau du système), ou demandez à l’administrateur du réseau de laisser passer cet ordinateur sans.</translation>
    </message>
    <message>
        <source>The network&apos;s proxy{proxy} refused to let this computer reach the hub (HTTP {status}). Check the proxy under Advanced, or ask the network&apos;s administrator.</source>
        <translation>Le proxy du réseau{proxy} a refusé que cet ordinateur joigne le hub (HTTP {status}). Vérifiez le proxy dans les réglages avancés, ou adressez-vous à l’administrateur du réseau.</translation>
    </message>
    <message>
        <source>The hub did not answer in time. Check the workstation&apos;s connection (or the proxy under Advanced), then try again.</source>
        <translation>Le hub n’a pas répondu à temps. Vérifiez la connexion du poste (ou le proxy, sous Réglages de connexion avancés), puis réessayez.</translation>
    </message>
    <message>
        <source>The hub could not be reached. Check its address and the network (or the proxy under Advanced), then try again.</source>
        <translation>Le hub est injoignable. Vérifiez son adresse et le réseau (ou le proxy dans les réglages avancés), puis réessayez.</translation>
    </message>
    <message>
        <source>This account is disabled: the password is right, but the agency has turned the account off. Ask the agency to turn it on again.</source>
        <translation>Ce compte est désactivé&#x202f;: le mot de passe est juste, mais l’agence a désactivé le compte. Demandez à l’agence de le réactiver.</translation>
    </message>
    <message>
        <source>The hub does not let this account sign in here: %1</source>
        <translation>Le hub n&apos;autorise pas ce compte à se connecter ici : %1</translation>
    </message>
    <message>
        <source>%1 could not use the sign-in (%2); unlock the keyring, or untick “Remember me” to sign in for this session only.</source>
        <translation>%1 n’a pas pu utiliser l’identifiant (%2)&#x202f;; déverrouillez le trousseau, ou décochez «&#xa0;Se souvenir de moi&#xa0;» pour vous connecter pour cette session seulement.</translation>
    </message>
    <message>
        <source>Signing in failed: %1</source>
        <translation>La connexion a échoué : %1</translation>
    </message>
    <message>
        <source>Plain HTTP</source>
        <translation>HTTP non chiffré</translation>
    </message>
    <message>
        <source>This hub address uses plain HTTP: the password and the footage would cross the network unencrypted. Use it only if your administrator says so.

Allow plain HTTP for this hub?</source>
        <translation>Cette adresse de hub utilise le HTTP non chiffré : le mot de passe et les images circuleraient en clair sur le réseau. Ne l&apos;utilisez que si votre administrateur vous le demande.

Autoriser le HTTP non chiffré pour ce hub ?</translation>
    </message>
    <message>
        <source>No secure keyring</source>
        <translation>Aucun trousseau sécurisé</translation>
    </message>
    <message>
        <source>%1

Keep the sign-in in plain text anyway?</source>
        <translation>%1

Conserver quand même la connexion en clair ?</translation>
    </message>
    <message>
        <source>Signing in…</source>
        <translation>Connexion…</translation>
    </message>
    <message>
        <source>Sign in</source>
        <translation>Se connecter</translation>
    </message>
    <message>
        <source>CA bundle</source>
        <translation>Fichier de certificats</translation>
    </message>
    <message>
        <source>Certificates (*.pem *.crt *.cer);;All files (*)</source>
        <translation>Certificats (*.pem *.crt *.cer);;Tous les fichiers (*)</translation>
    </message>
    <message>
        <source>Sign in to the hub</source>
        <translation>Connexion au hub</translation>
    </message>
    <message>
        <source>&amp;Hub address:</source>
        <translation>Adresse du &amp;hub :</translation>
    </message>
    <message>
        <source>https://hub.example.org</source>
        <translation>https://hub.example.org</translation>
    </message>
    <message>
        <source>Hub address</source>
        <translation>Adresse du hub</translation>
    </message>
    <message>
        <source>&amp;User name:</source>
        <translation>Nom d&apos;&amp;utilisateur :</translation>
    </message>
    <message>
        <source>User name</source>
        <translation>Nom d&apos;utilisateur</translation>
    </message>
    <message>
        <source>&amp;Password:</source>
        <translation>Mot de &amp;passe :</translation>
    </message>
    <message>
        <source>Password</source>
        <translation>Mot de passe</translation>
    </message>
    <message>
        <source>&amp;Remember me on this workstation</source>
        <translation>&amp;Se souvenir de moi sur ce poste</translation>
    </message>
    <message>
        <source>Keep the sign-in in the system keyring (never the password). Off: sign in again at each start.</source>
        <translation>Garder la connexion dans le trousseau du système (jamais le mot de passe). Décoché : reconnexion à chaque démarrage.</translation>
    </message>
    <message>
        <source>&amp;Advanced connection settings</source>
        <translation>Réglages de connexion &amp;avancés</translation>
    </message>
    <message>
        <source>&amp;CA bundle:</source>
        <translation>Fichier de &amp;certificats :</translation>
    </message>
    <message>
        <source>Certificate file of a private authority</source>
        <translation>Fichier de certificats d&apos;une autorité privée</translation>
    </message>
    <message>
        <source>CA bundle file</source>
        <translation>Fichier de certificats</translation>
    </message>
    <message>
        <source>Browse…</source>
        <translation>Parcourir…</translation>
    </message>
    <message>
        <source>Choose the CA bundle file</source>
        <translation>Choisir le fichier de certificats</translation>
    </message>
    <message>
        <source>Pro&amp;xy:</source>
        <translation>Pro&amp;xy :</translation>
    </message>
    <message>
        <source>http://proxy.example.org:3128 (empty: system)</source>
        <translation>http://proxy.example.org:3128 (vide : celui du système)</translation>
    </message>
    <message>
        <source>Proxy</source>
        <translation>Proxy</translation>
    </message>
    <message>
        <source>Proxy user na&amp;me:</source>
        <translation>No&amp;m d’utilisateur du proxy :</translation>
    </message>
    <message>
        <source>only if the proxy asks for one</source>
        <translation>seulement si le proxy en demande un</translation>
    </message>
    <message>
        <source>Proxy user name</source>
        <translation>Nom d’utilisateur du proxy</translation>
    </message>
    <message>
        <source>Proxy pass&amp;word:</source>
        <translation>Mot de passe du pr&amp;oxy :</translation>
    </message>
    <message>
        <source>Proxy password</source>
        <translation>Mot de passe du proxy</translation>
    </message>
    <message>
        <source>A&amp;llow plain HTTP (unencrypted)</source>
        <translation>Au&amp;toriser le HTTP (non chiffré)</translation>
    </message>
    <message>
        <source>Sign-in problem</source>
        <translation>Problème de connexion</translation>
    </message>
    <message>
        <source>Cancel</source>
        <translation>Annuler</translation>
    </message>
</context>
<context>
    <name>Startup</name>
    <message>
        <source>ALU Desk cannot write its folders</source>
        <translation>ALU Desk ne peut pas écrire dans ses dossiers</translation>
    </message>
    <message>
        <source>ALU Desk cannot open its library</source>
        <translation>ALU Desk ne peut pas ouvrir sa médiathèque</translation>
    </message>
    <message>
        <source>The demo could not start</source>
        <translation>La démo n&apos;a pas pu démarrer</translation>
    </message>
    <message>
        <source>ALU Desk cannot keep your sign-in</source>
        <translation>ALU Desk ne peut pas conserver votre connexion</translation>
    </message>
    <message>
        <source>Starting the transfers…</source>
        <translation>Démarrage des transferts…</translation>
    </message>
    <message>
        <source>Updating your library for this version of ALU Desk (once; a large library takes a minute)…</source>
        <translation>Mise à jour de votre médiathèque pour cette version d’ALU Desk (une seule fois ; une grande médiathèque prend une minute)…</translation>
    </message>
    <message>
        <source>ALU Desk is already at work on this data folder</source>
        <translation>ALU Desk travaille déjà sur ce dossier de données</translation>
    </message>
    <message>
        <source>Signing out…</source>
        <translation>Déconnexion…</translation>
    </message>
    <message>
        <source>You are signed out on this workstation, but the hub could not be told: that sign-in stays valid on the hub until it expires (30 days after it was made, unless the agency set another time). To end it now, ask the agency to sign out {username}.</source>
        <translation>Vous êtes déconnecté sur ce poste, mais le hub n’a pas pu être prévenu : cette connexion reste valable sur le hub jusqu’à son expiration (30 jours après sa création, sauf si l’agence a fixé une autre durée). Pour y mettre fin maintenant, demandez à l’agence de déconnecter {username}.</translation>
    </message>
    <message>
        <source>ALU Desk is already running on this data folder but does not answer: it may be busy, or it has stopped responding. Switch to its window, or close it and start ALU Desk again.</source>
        <translation>ALU Desk est déjà ouvert sur ce dossier de données mais ne répond pas : il est peut-être occupé, ou il ne répond plus. Passez à sa fenêtre, ou fermez-le et relancez ALU Desk.</translation>
    </message>
    <message>
        <source>The disk that holds {folder} is full. Free some space there, then start ALU Desk again.</source>
        <translation>Le disque qui contient {folder} est plein. Libérez de la place, puis relancez ALU Desk.</translation>
    </message>
    <message>
        <source>the disk is read-only</source>
        <translation>le disque est en lecture seule</translation>
    </message>
    <message>
        <source>your account may not write there</source>
        <translation>votre compte n’a pas le droit d’y écrire</translation>
    </message>
    <message>
        <source>ALU Desk keeps its library, logs and cache in your home folder and cannot write to {folder}: {reason}.

Ask your administrator to give your account write access to this folder (or to free it if it is full or belongs to another account), then start ALU Desk again.</source>
        <translation>ALU Desk garde sa médiathèque, ses journaux et son cache dans votre dossier personnel et ne peut pas écrire dans {folder}&#x202f;: {reason}.

Demandez à votre administrateur de donner à votre compte le droit d’écrire dans ce dossier (ou de le libérer s’il est plein ou appartient à un autre compte), puis relancez ALU Desk.</translation>
    </message>
    <message>
        <source>ALU Desk must update its library for this version, and keeps a copy of it first: that needs {needed} free on the disk that holds {folder}, where {free} are free. Free some space there, then start ALU Desk again; nothing was changed.</source>
        <translation>ALU Desk doit mettre à jour sa médiathèque pour cette version et en garde d’abord une copie : il faut {needed} libres sur le disque qui contient {folder}, où {free} sont libres. Libérez de la place sur ce disque, puis relancez ALU Desk ; rien n’a été modifié.</translation>
    </message>
    <message>
        <source>The disk that holds {folder} is full. Free some space there, then start ALU Desk again. The library is not damaged by it: nothing is lost.</source>
        <translation>Le disque qui contient {folder} est plein. Libérez de la place sur ce disque, puis relancez ALU Desk. La médiathèque n’en est pas endommagée : rien n’est perdu.</translation>
    </message>
    <message>
        <source>Another ALU Desk, or alu watch run (process {pid}), is at work on this data folder: the library must be updated for this version, which is not done under a running one. Quit it (or stop alu watch run), then start ALU Desk again; nothing was changed.</source>
        <translation>Un autre ALU Desk, ou alu watch run (processus {pid}), travaille sur ce dossier de données : la médiathèque doit être mise à jour pour cette version, ce qui ne se fait pas sous un ALU Desk en marche. Quittez-le (ou arrêtez alu watch run), puis relancez ALU Desk ; rien n’a été changé.</translation>
    </message>
    <message>
        <source>The path of the data folder {folder} is too long for the library&apos;s database ({length} bytes; about {usable} can be used). Start ALU Desk with a data folder on a shorter path (--data DIR, or ALU_CLIENT_HOME=DIR), or move this one. Nothing in it was changed.</source>
        <translation>Le chemin du dossier de données {folder} est trop long pour la base de données de la médiathèque ({length} octets ; environ {usable} sont possibles). Démarrez ALU Desk avec un dossier de données au chemin plus court (--data DOSSIER, ou ALU_CLIENT_HOME=DOSSIER), ou déplacez celui-ci. Rien n’y a été changé.</translation>
    </message>
    <message>
        <source>The library {file} cannot be read now ({error}). Check its disk, then start ALU Desk again. Nothing says the file is damaged.</source>
        <translation>La médiathèque {file} ne peut pas être lue pour l’instant ({error}). Vérifiez son disque, puis relancez ALU Desk. Rien n’indique que le fichier soit endommagé.</translation>
    </message>
    <message>
        <source>ALU Desk could not use its library {file} ({error}). Nothing says the file is damaged: do not move it. Quit ALU Desk and start it again; if it happens again, tell the agency.</source>
        <translation>ALU Desk n’a pas pu utiliser sa médiathèque {file} ({error}). Rien n’indique que le fichier soit endommagé : ne le déplacez pas. Quittez ALU Desk et relancez-le ; si cela se reproduit, prévenez l’agence.</translation>
    </message>
    <message>
        <source>The library {file} is damaged ({error}). Quit ALU Desk, move {name} aside together with {name}-wal and {name}-shm if they are there (they belong to it), and start again: a new library begins, and the hub gives back the feed and your history (the transfers in the queue and the history not yet sent stay in the old file). The copy made before the last update ({name}.bak-vN, if it is there) can be put back instead: rename it {name}, once those three files are moved away.</source>
        <translation>La médiathèque {file} est endommagée ({error}). Quittez ALU Desk, mettez {name} de côté avec {name}-wal et {name}-shm s’ils sont là (ils lui appartiennent), puis relancez : une nouvelle médiathèque commence, et le hub redonne le fil et votre historique (les transferts de la file d’attente et l’historique pas encore envoyé restent dans l’ancien fichier). La copie faite avant la dernière mise à jour ({name}.bak-vN, si elle est là) peut être remise à la place : renommez-la {name}, une fois ces trois fichiers mis de côté.</translation>
    </message>
    <message>
        <source>An alu command (process {pid}) is running a transfer in this workstation&apos;s data folder. Wait for it to end, then start ALU Desk again.</source>
        <translation>Une commande alu (processus {pid}) effectue un transfert dans le dossier de données de ce poste. Attendez qu’elle se termine, puis relancez ALU Desk.</translation>
    </message>
    <message>
        <source>Another ALU Desk, or alu watch run, is already at work on this workstation&apos;s transfers. Close it (or stop alu watch run), then start ALU Desk again.</source>
        <translation>Un autre ALU Desk, ou alu watch run, travaille déjà sur les transferts de ce poste. Fermez-le (ou arrêtez alu watch run), puis relancez ALU Desk.</translation>
    </message>
    <message>
        <source>Another ALU Desk, or alu watch run (process {pid}), is already at work on this workstation&apos;s transfers. Close it (or stop alu watch run), then start ALU Desk again.</source>
        <translation>Un autre ALU Desk, ou alu watch run (processus {pid}), travaille déjà sur les transferts de ce poste. Fermez-le (ou arrêtez alu watch run), puis relancez ALU Desk.</translation>
    </message>
    <message>
        <source>The data folder {folder} is an ALU hub&apos;s data folder: a workstation&apos;s library, downloads and logs do not go there, and nothing was written in it.

Choose a folder of this workstation&apos;s own (start ALU Desk with --data DIR, or set ALU_CLIENT_HOME=DIR), then start it again.</source>
        <translation>Le dossier de données {folder} est le dossier de données d’un hub ALU : la médiathèque, les téléchargements et les journaux d’un poste n’y ont pas leur place, et rien n’y a été écrit.

Choisissez un dossier propre à ce poste (lancez ALU Desk avec --data DIR, ou réglez ALU_CLIENT_HOME=DIR), puis relancez-le.</translation>
    </message>
    <message>
        <source>The data folder {folder} is on a network share ({fstype}). ALU Desk keeps its library only on a local disk: on a share it can be damaged, the more so when two workstations use it.

Choose a data folder on this computer&apos;s disk (start ALU Desk with --data DIR, or set ALU_CLIENT_HOME=DIR), then start it again.</source>
        <translation>Le dossier de données {folder} est sur un partage réseau ({fstype}). ALU Desk ne garde sa médiathèque que sur un disque local : sur un partage, elle peut être endommagée, d’autant plus si deux postes l’utilisent.

Choisissez un dossier de données sur le disque de cet ordinateur (lancez ALU Desk avec --data DIR, ou définissez ALU_CLIENT_HOME=DIR), puis relancez-le.</translation>
    </message>
    <message>
        <source>The data folder {folder} is on a file system that cannot lock files (a network share?). ALU Desk keeps its library there only on a local disk.

Choose a data folder on this computer&apos;s disk (start ALU Desk with --data DIR, or set ALU_CLIENT_HOME=DIR), then start it again.</source>
        <translation>Le dossier de données {folder} est sur un système de fichiers qui ne sait pas verrouiller les fichiers (un partage réseau ?). ALU Desk n’y garde sa médiathèque que sur un disque local.

Choisissez un dossier de données sur le disque de cet ordinateur (lancez ALU Desk avec --data DIR, ou définissez ALU_CLIENT_HOME=DIR), puis relancez-le.</translation>
    </message>
    <message>
        <source>This library was written by a newer version of ALU Desk (its format {current}; this version reads up to {newest}). Nothing was changed in it.

Install the newer ALU Desk again (ask your administrator for it), then start it.</source>
        <translation>Cette médiathèque a été écrite par une version plus récente d’ALU Desk (son format&#x202f;: {current}&#x202f;; cette version lit jusqu’au {newest}). Rien n’y a été modifié.

Installez de nouveau la version plus récente d’ALU Desk (demandez-la à votre administrateur), puis lancez-la.</translation>
    </message>
    <message>
        <source>Unlock your login keychain (Keychain Access), then start ALU Desk again.</source>
        <translation>Déverrouillez votre trousseau de session (Trousseaux d’accès), puis relancez ALU Desk.</translation>
    </message>
    <message>
        <source>Make sure Windows Credential Manager is running, then start ALU Desk again.</source>
        <translation>Vérifiez que le Gestionnaire d’identification de Windows fonctionne, puis relancez ALU Desk.</translation>
    </message>
    <message>
        <source>Start or unlock your desktop&apos;s keyring (GNOME Keyring or KWallet; your administrator can install one), then start ALU Desk again.</source>
        <translation>Démarrez ou déverrouillez le trousseau de clés de votre bureau (GNOME Keyring ou KWallet&#x202f;; votre administrateur peut en installer un), puis relancez ALU Desk.</translation>
    </message>
    <message>
        <source>No keyring</source>
        <translation>Aucun trousseau de clés</translation>
    </message>
    <message>
        <source>No keyring is available to keep your sign-in safe.</source>
        <translation>Aucun trousseau de clés n&apos;est disponible pour protéger votre connexion.</translation>
    </message>
    <message>
        <source>You can go on with the sign-in kept in a file that is NOT secure: anyone who can read your files could use it.</source>
        <translation>Vous pouvez continuer en gardant la connexion dans un fichier NON sécurisé : toute personne pouvant lire vos fichiers pourrait s&apos;en servir.</translation>
    </message>
    <message>
        <source>Continue with an insecure file</source>
        <translation>Continuer avec un fichier non sécurisé</translation>
    </message>
    <message>
        <source>Quit</source>
        <translation>Quitter</translation>
    </message>
</context>
<context>
    <name>StatusBar</name>
    <message>
        <source>Connecting…</source>
        <translation>Connexion…</translation>
    </message>
    <message>
        <source>Catching up with the feed: %1 items so far…</source>
        <translation>Mise à jour du fil : %1 éléments reçus jusqu’ici…</translation>
    </message>
    <message>
        <source>● Online</source>
        <translation>● En ligne</translation>
    </message>
    <message>
        <source>Connected to the hub; the feed&apos;s new items are being downloaded.</source>
        <translation>Connecté au hub ; les nouveaux éléments du fil sont en cours de téléchargement.</translation>
    </message>
    <message>
        <source>Connected to the hub; the feed is live.</source>
        <translation>Connecté au hub ; le fil arrive en direct.</translation>
    </message>
    <message>
        <source>○ Offline</source>
        <translation>○ Hors ligne</translation>
    </message>
    <message>
        <source>The hub cannot be reached; the app will catch up.</source>
        <translation>Le hub est injoignable ; l&apos;application rattrapera son retard ensuite.</translation>
    </message>
    <message>
        <source>○ Signed out</source>
        <translation>○ Déconnecté</translation>
    </message>
    <message>
        <source>The hub no longer accepts this sign-in.</source>
        <translation>Le hub n&apos;accepte plus cette connexion.</translation>
    </message>
    <message>
        <source>Click to sign in (File › Sign in…).</source>
        <translation>Cliquez pour vous connecter (Fichier › Se connecter…).</translation>
    </message>
    <message>
        <source>⚠ Library cannot be saved</source>
        <translation>⚠ La médiathèque ne peut pas être enregistrée</translation>
    </message>
    <message>
        <source>↓ %1  ↑ %2</source>
        <translation>↓ %1  ↑ %2</translation>
    </message>
    <message>
        <source>%1 active, %2 queued</source>
        <translation>%1 en cours, %2 en attente</translation>
    </message>
    <message numerus="yes">
        <source>⚠ Rule “%1”: %Ln items waiting</source>
        <translation>
            <numerusform>⚠ Règle «&#xa0;%1&#xa0;» : %Ln sujet en attente</numerusform>
            <numerusform>⚠ Règle «&#xa0;%1&#xa0;» : %Ln sujets en attente</numerusform>
        </translation>
    </message>
    <message numerus="yes">
        <source>⚠ Rules: %Ln items waiting</source>
        <translation>
            <numerusform>⚠ Règles : %Ln sujet en attente</numerusform>
            <numerusform>⚠ Règles : %Ln sujets en attente</numerusform>
        </translation>
    </message>
    <message numerus="yes">
        <source>Rule “%1”: %2; %Ln items waiting, downloaded once the folder can be written.</source>
        <translation>
            <numerusform>Règle «&#xa0;%1&#xa0;» : %2 ; %Ln sujet en attente, téléchargé dès que le dossier pourra être écrit.</numerusform>
            <numerusform>Règle «&#xa0;%1&#xa0;» : %2 ; %Ln sujets en attente, téléchargés dès que le dossier pourra être écrit.</numerusform>
        </translation>
    </message>
    <message>
        <source>Connection: %1</source>
        <translation>Connexion : %1</translation>
    </message>
    <message>
        <source>The hub no longer has what this workstation last saw of it (restored from a backup, or another hub at this address?): its feed and history are read again, and this workstation&apos;s recent history is sent to it again.</source>
        <translation>Le hub n’a plus ce que ce poste en a vu en dernier (restauré depuis une sauvegarde, ou un autre hub à cette adresse&#x202f;?)&#x202f;: son fil et son historique sont relus, et l’historique récent de ce poste lui est renvoyé.</translation>
    </message>
    <message>
        <source>Hub: %1</source>
        <translation>Hub : %1</translation>
    </message>
    <message>
        <source>Limit on</source>
        <translation>Limite active</translation>
    </message>
    <message>
        <source>No limit</source>
        <translation>Sans limite</translation>
    </message>
    <message>
        <source>Limit set by the weekly schedule: ↓ %1  ↑ %2 (Settings).</source>
        <translation>Limite fixée par le calendrier hebdomadaire : ↓ %1  ↑ %2 (Réglages).</translation>
    </message>
    <message>
        <source>Bandwidth limit: ↓ %1  ↑ %2 (Settings or Transfers tab).</source>
        <translation>Limite de débit : ↓ %1  ↑ %2 (Réglages ou onglet Transferts).</translation>
    </message>
    <message>
        <source>unlimited</source>
        <translation>illimité</translation>
    </message>
    <message>
        <source>No limit at this hour; the weekly schedule sets one at other hours.</source>
        <translation>Pas de limite à cette heure ; le calendrier hebdomadaire en fixe une à d’autres heures.</translation>
    </message>
    <message>
        <source>Transfers use all the bandwidth they can.</source>
        <translation>Les transferts utilisent tout le débit disponible.</translation>
    </message>
</context>
<context>
    <name>Toolbar</name>
    <message>
        <source>More commands</source>
        <translation>Plus de commandes</translation>
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
        <source>Limit speed…</source>
        <translation>Limiter la vitesse…</translation>
    </message>
    <message>
        <source>A speed limit of their own for the selected transfers</source>
        <translation>Une limite de vitesse propre aux transferts sélectionnés</translation>
    </message>
    <message>
        <source>Move up</source>
        <translation>Monter</translation>
    </message>
    <message>
        <source>One place earlier among the transfers of the same priority</source>
        <translation>Une place plus tôt parmi les transferts de même priorité</translation>
    </message>
    <message>
        <source>Move down</source>
        <translation>Descendre</translation>
    </message>
    <message>
        <source>One place later among the transfers of the same priority</source>
        <translation>Une place plus tard parmi les transferts de même priorité</translation>
    </message>
    <message>
        <source>Move to the top</source>
        <translation>Placer en premier</translation>
    </message>
    <message>
        <source>First of the transfers of the same priority</source>
        <translation>Premier des transferts de même priorité</translation>
    </message>
    <message>
        <source>Move to the bottom</source>
        <translation>Placer en dernier</translation>
    </message>
    <message>
        <source>Last of the transfers of the same priority</source>
        <translation>Dernier des transferts de même priorité</translation>
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
        <source>Rule: %1</source>
        <translation>Règle : %1</translation>
    </message>
    <message>
        <source>Usage restrictions: %1</source>
        <translation>Restrictions d’usage : %1</translation>
    </message>
    <message>
        <source>Limited to {rate}</source>
        <translation>Limité à {rate}</translation>
    </message>
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
    <message>
        <source>Verifying</source>
        <translation>Vérification</translation>
    </message>
    <message>
        <source>Waiting for space</source>
        <translation>En attente de place</translation>
    </message>
    <message>
        <source>Waiting for sign-in</source>
        <translation>En attente de connexion</translation>
    </message>
</context>
<context>
    <name>TransfersPage</name>
    <message>
        <source>&amp;Download folder:</source>
        <translation>Dossier de &amp;téléchargement :</translation>
    </message>
    <message>
        <source>Downloads at &amp;once:</source>
        <translation>Téléchargements &amp;simultanés :</translation>
    </message>
    <message>
        <source>&amp;Uploads at once:</source>
        <translation>&amp;Envois simultanés :</translation>
    </message>
    <message>
        <source>Download &amp;limit:</source>
        <translation>&amp;Limite de réception :</translation>
    </message>
    <message>
        <source>Upload l&amp;imit:</source>
        <translation>L&amp;imite d’envoi :</translation>
    </message>
    <message>
        <source>Download folder</source>
        <translation>Dossier de téléchargement</translation>
    </message>
    <message>
        <source>Choose the download folder</source>
        <translation>Choisir le dossier de téléchargement</translation>
    </message>
    <message>
        <source>Downloads at once</source>
        <translation>Téléchargements simultanés</translation>
    </message>
    <message>
        <source>Uploads at once</source>
        <translation>Envois simultanés</translation>
    </message>
    <message>
        <source>Download limit</source>
        <translation>Limite de réception</translation>
    </message>
    <message>
        <source>Upload limit</source>
        <translation>Limite d’envoi</translation>
    </message>
    <message>
        <source>unlimited (e.g. {fast} or {slow})</source>
        <extracomment>the placeholder of a bandwidth limit field; {fast} and {slow} are speeds written as the app writes them: &quot;2 Mbit/s&quot;, &quot;500 kbit/s&quot;</extracomment>
        <translation>illimité (p. ex. {fast} ou {slow})</translation>
    </message>
    <message>
        <source>Weekly schedule</source>
        <translation>Programme hebdomadaire</translation>
    </message>
    <message>
        <source>In these periods their limits apply instead of the ones above (the first period that covers a moment wins).</source>
        <translation>Pendant ces plages, leurs limites remplacent celles ci-dessus (la première plage qui couvre un moment l’emporte).</translation>
    </message>
    <message>
        <source>Weekly bandwidth schedule</source>
        <translation>Programme hebdomadaire des débits</translation>
    </message>
    <message>
        <source>Add period…</source>
        <translation>Ajouter une plage…</translation>
    </message>
    <message>
        <source>Edit…</source>
        <translation>Modifier…</translation>
    </message>
    <message>
        <source>Remove</source>
        <translation>Supprimer</translation>
    </message>
    <message>
        <source>Move u&amp;p</source>
        <translation>Monter (&amp;h)</translation>
    </message>
    <message>
        <source>Move do&amp;wn</source>
        <translation>Descendre (&amp;b)</translation>
    </message>
    <message>
        <source>Choose a folder for the downloads.</source>
        <translation>Choisissez un dossier pour les téléchargements.</translation>
    </message>
    <message>
        <source>Give the full path of the folder.</source>
        <translation>Indiquez le chemin complet du dossier.</translation>
    </message>
    <message>
        <source>This folder does not exist, or cannot be reached.</source>
        <translation>Ce dossier n’existe pas ou est inaccessible.</translation>
    </message>
    <message>
        <source>ALU Desk cannot write in this folder ({why}).</source>
        <translation>ALU Desk ne peut pas écrire dans ce dossier ({why}).</translation>
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
        <source>Downloads and uploads in queue order; drag rows, or press Alt+Up or Alt+Down, to reorder them</source>
        <translation>Téléchargements et envois dans l’ordre de la file ; faites glisser les lignes, ou appuyez sur Alt+↑ ou Alt+↓, pour les réordonner</translation>
    </message>
    <message>
        <source>&amp;Show:</source>
        <translation>Affic&amp;her&#xa0;:</translation>
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
    <message numerus="yes">
        <source>Cancel %Ln transfers?</source>
        <translation>
            <numerusform>Annuler %Ln transfert ?</numerusform>
            <numerusform>Annuler %Ln transferts ?</numerusform>
        </translation>
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
        <source>Speed limit</source>
        <translation>Limite de vitesse</translation>
    </message>
    <message>
        <source>Highest speed for the selected transfers, e.g. 3M or 400 KB/s (empty: none):</source>
        <translation>Vitesse maximale des transferts sélectionnés, par ex. 3M ou 400 KB/s (vide : aucune) :</translation>
    </message>
    <message>
        <source>Could not set the speed limit: {error}</source>
        <translation>Impossible de fixer la limite de vitesse : {error}</translation>
    </message>
    <message>
        <source>Could not set the bandwidth limit: {error}</source>
        <translation>Impossible de régler la limite de débit&#xa0;: {error}</translation>
    </message>
    <message>
        <source>Select a transfer first.</source>
        <translation>Sélectionnez d’abord un transfert.</translation>
    </message>
</context>
<context>
    <name>Tray</name>
    <message>
        <source>ALU Desk — %1</source>
        <translation>ALU Desk — %1</translation>
    </message>
    <message>
        <source>FLASH: %1</source>
        <translation>FLASH : %1</translation>
    </message>
    <message>
        <source>Urgent: %1</source>
        <translation>Urgent : %1</translation>
    </message>
    <message>
        <source>%1 more flash or urgent items in the feed.</source>
        <translation>%1 autres sujets flash ou urgents dans le fil.</translation>
    </message>
    <message>
        <source>Feed</source>
        <translation>Fil</translation>
    </message>
    <message>
        <source>Upload finished</source>
        <translation>Envoi terminé</translation>
    </message>
    <message>
        <source>Download finished</source>
        <translation>Téléchargement terminé</translation>
    </message>
    <message numerus="yes">
        <source>%Ln items downloaded</source>
        <translation>
            <numerusform>%Ln sujet téléchargé</numerusform>
            <numerusform>%Ln sujets téléchargés</numerusform>
        </translation>
    </message>
    <message numerus="yes">
        <source>and %Ln more</source>
        <translation>
            <numerusform>et %Ln autre</numerusform>
            <numerusform>et %Ln autres</numerusform>
        </translation>
    </message>
    <message>
        <source>Rule: %1</source>
        <translation>Règle : %1</translation>
    </message>
    <message>
        <source>Rules: %1</source>
        <translation>Règles : %1</translation>
    </message>
    <message>
        <source>Usage restrictions: %1</source>
        <translation>Restrictions d’usage : %1</translation>
    </message>
    <message>
        <source>Usage restrictions on {title}: {restrictions}</source>
        <translation>Restrictions d’usage de «&#xa0;{title}&#xa0;» : {restrictions}</translation>
    </message>
    <message numerus="yes">
        <source>%Ln more items with usage restrictions</source>
        <translation>
            <numerusform>%Ln autre sujet avec des restrictions d’usage</numerusform>
            <numerusform>%Ln autres sujets avec des restrictions d’usage</numerusform>
        </translation>
    </message>
    <message>
        <source>Withdrawn by the agency: %1</source>
        <translation>Retiré par l’agence : %1</translation>
    </message>
    <message>
        <source>Its download was canceled.</source>
        <translation>Son téléchargement a été annulé.</translation>
    </message>
    <message>
        <source>Do not use it; its files are marked in the Library.</source>
        <translation>Ne l’utilisez pas ; ses fichiers sont signalés dans la Médiathèque.</translation>
    </message>
    <message numerus="yes">
        <source>%Ln items withdrawn by the agency</source>
        <translation>
            <numerusform>%Ln sujet retiré par l’agence</numerusform>
            <numerusform>%Ln sujets retirés par l’agence</numerusform>
        </translation>
    </message>
    <message>
        <source>{title}: {reason}</source>
        <translation>{title} : {reason}</translation>
    </message>
    <message>
        <source>Do not use them; they are marked in the Library.</source>
        <translation>Ne les utilisez pas ; ils sont signalés dans la Médiathèque.</translation>
    </message>
    <message>
        <source>Corrected by the agency: %1</source>
        <translation>Corrigé par l’agence : %1</translation>
    </message>
    <message>
        <source>Usage restrictions now: %1</source>
        <translation>Restrictions d’usage désormais : %1</translation>
    </message>
    <message>
        <source>Usage restrictions lifted.</source>
        <translation>Restrictions d’usage levées.</translation>
    </message>
    <message numerus="yes">
        <source>Usage restrictions of %Ln items corrected</source>
        <translation>
            <numerusform>Restrictions d’usage de %Ln sujet corrigées</numerusform>
            <numerusform>Restrictions d’usage de %Ln sujets corrigées</numerusform>
        </translation>
    </message>
    <message>
        <source>Upload failed</source>
        <translation>Échec de l&apos;envoi</translation>
    </message>
    <message>
        <source>Download failed</source>
        <translation>Échec du téléchargement</translation>
    </message>
    <message>
        <source>{name}: {problem}</source>
        <translation>{name} : {problem}</translation>
    </message>
    <message>
        <source>Show ALU Desk</source>
        <translation>Afficher ALU Desk</translation>
    </message>
    <message>
        <source>Pause all transfers</source>
        <translation>Suspendre tous les transferts</translation>
    </message>
    <message>
        <source>Resume all transfers</source>
        <translation>Reprendre tous les transferts</translation>
    </message>
    <message>
        <source>Quit</source>
        <translation>Quitter</translation>
    </message>
</context>
<context>
    <name>Unavailable</name>
    <message>
        <source>This part of ALU Desk could not be opened (%1). The rest works; the log has the details.</source>
        <translation>Cette partie d&apos;ALU Desk n&apos;a pas pu s&apos;ouvrir (%1). Le reste fonctionne ; le journal donne les détails.</translation>
    </message>
</context>
<context>
    <name>Upload</name>
    <message>
        <source>Upload</source>
        <translation>Envoi</translation>
    </message>
    <message>
        <source>There is no video file to upload in what was dropped.</source>
        <translation>Aucun fichier vidéo à envoyer parmi les éléments déposés.</translation>
    </message>
    <message>
        <source>What was dropped could not be read ({reason}).</source>
        <translation>Impossible de lire ce qui a été déposé ({reason}).</translation>
    </message>
    <message>
        <source>{name} is not a video file.</source>
        <translation>{name} n&apos;est pas un fichier vidéo.</translation>
    </message>
    <message>
        <source>{name} could not be read ({reason}).</source>
        <translation>Impossible de lire {name} ({reason}).</translation>
    </message>
    <message>
        <source>{name} is not a regular file (a pipe or a device).</source>
        <translation>{name} n’est pas un fichier ordinaire (un tube ou un périphérique).</translation>
    </message>
    <message>
        <source>{url} is not a file on this computer.</source>
        <translation>{url} n&apos;est pas un fichier de cet ordinateur.</translation>
    </message>
    <message>
        <source>The folder {name} has no video files.</source>
        <translation>Le dossier {name} ne contient aucun fichier vidéo.</translation>
    </message>
    <message>
        <source>{name} was not found.</source>
        <translation>{name} est introuvable.</translation>
    </message>
</context>
<context>
    <name>UploadDialog</name>
    <message>
        <source>Upload {name}</source>
        <translation>Envoyer {name}</translation>
    </message>
    <message>
        <source>Files to upload</source>
        <translation>Fichiers à envoyer</translation>
    </message>
    <message>
        <source>&amp;Apply to all files</source>
        <translation>&amp;Appliquer à tous les fichiers</translation>
    </message>
    <message>
        <source>&amp;Upload</source>
        <translation>&amp;Envoyer</translation>
    </message>
    <message>
        <source>Send to the hub</source>
        <translation>Envoyer au hub</translation>
    </message>
    <message>
        <source>Preparing the upload</source>
        <translation>Préparation de l&apos;envoi</translation>
    </message>
    <message>
        <source>Left out:</source>
        <translation>Écartés :</translation>
    </message>
    <message>
        <source>What was dropped could not be read ({reason}).</source>
        <translation>Impossible de lire ce qui a été déposé ({reason}).</translation>
    </message>
    <message>
        <source>The details you typed for {name} before ALU Desk closed are back.</source>
        <translation>Les détails saisis pour {name} avant la fermeture d’ALU Desk ont été restaurés.</translation>
    </message>
    <message numerus="yes">
        <source>The details you typed before ALU Desk closed are back for %Ln files.</source>
        <translation>
            <numerusform>Les détails saisis avant la fermeture d’ALU Desk ont été restaurés pour %Ln fichier.</numerusform>
            <numerusform>Les détails saisis avant la fermeture d’ALU Desk ont été restaurés pour %Ln fichiers.</numerusform>
        </translation>
    </message>
    <message>
        <source>{name} is still being read; try again in a moment.</source>
        <translation>{name} est encore en cours de lecture ; réessayez dans un instant.</translation>
    </message>
    <message>
        <source>{name} changed since it was read (is it still being copied?); it is being read again.</source>
        <translation>{name} a changé depuis sa lecture (la copie est-elle encore en cours ?) ; il est relu.</translation>
    </message>
    <message numerus="yes">
        <source>The hub would refuse %Ln files: {names}. Remove them from the list.</source>
        <translation>
            <numerusform>Le hub refuserait %Ln fichier&#x202f;: {names}. Retirez-le de la liste.</numerusform>
            <numerusform>Le hub refuserait %Ln fichiers&#x202f;: {names}. Retirez-les de la liste.</numerusform>
        </translation>
    </message>
    <message>
        <source>Check {name}: {problem}</source>
        <translation>Vérifiez {name} : {problem}</translation>
    </message>
    <message>
        <source>Reading the files first…</source>
        <translation>Lecture des fichiers avant l&apos;envoi…</translation>
    </message>
    <message>
        <source>Preparing…</source>
        <translation>Préparation…</translation>
    </message>
    <message>
        <source>Nothing was sent: these files were sent already.</source>
        <translation>Rien n’a été envoyé&#x202f;: ces fichiers avaient déjà été envoyés.</translation>
    </message>
    <message>
        <source>Nothing was sent: this file was sent already.</source>
        <translation>Rien n’a été envoyé&#x202f;: ce fichier avait déjà été envoyé.</translation>
    </message>
    <message>
        <source>{name} was already sent from this workstation on {when} as “{title}”.</source>
        <translation>{name} a déjà été envoyé depuis ce poste le {when} sous le titre «&#xa0;{title}&#xa0;».</translation>
    </message>
    <message>
        <source>{name} is already being sent from this workstation as “{title}” (see Transfers).</source>
        <translation>{name} est déjà en cours d’envoi depuis ce poste sous le titre «&#xa0;{title}&#xa0;» (voir Transferts).</translation>
    </message>
    <message>
        <source>{name} holds the same footage as {other}, above it.</source>
        <translation>{name} contient les mêmes images que {other}, plus haut.</translation>
    </message>
    <message>
        <source>Upload</source>
        <translation>Envoi</translation>
    </message>
    <message numerus="yes">
        <source>Send %Ln files again? Each would make another item in every feed.</source>
        <translation>
            <numerusform>Envoyer de nouveau %Ln fichier&#x202f;? Il ferait un autre sujet dans chaque fil.</numerusform>
            <numerusform>Envoyer de nouveau %Ln fichiers&#x202f;? Chacun ferait un autre sujet dans chaque fil.</numerusform>
        </translation>
    </message>
    <message>
        <source>Send this file again? It would make another item in every feed.</source>
        <translation>Envoyer de nouveau ce fichier&#x202f;? Il ferait un autre sujet dans chaque fil.</translation>
    </message>
    <message>
        <source>&amp;Send again</source>
        <translation>&amp;Envoyer de nouveau</translation>
    </message>
    <message>
        <source>&amp;Leave them out</source>
        <translation>&amp;Les laisser de côté</translation>
    </message>
    <message>
        <source>&amp;Leave it out</source>
        <translation>&amp;Le laisser de côté</translation>
    </message>
    <message>
        <source>Adding to the queue…</source>
        <translation>Ajout à la file d&apos;attente…</translation>
    </message>
    <message>
        <source>{name} changed while it was read: it is still being copied. Wait until the copy has finished, then press Upload again.</source>
        <translation>{name} a changé pendant sa lecture : la copie est encore en cours. Attendez qu&apos;elle soit terminée, puis cliquez de nouveau sur Envoyer.</translation>
    </message>
    <message>
        <source>{name} can no longer be read ({reason}).</source>
        <translation>{name} ne peut plus être lu ({reason}).</translation>
    </message>
    <message>
        <source>{name}: {problem}</source>
        <translation>{name} : {problem}</translation>
    </message>
    <message>
        <source>Discard the details you typed for {name}?</source>
        <translation>Abandonner les détails saisis pour {name}&#x202f;?</translation>
    </message>
    <message numerus="yes">
        <source>Discard the details you typed for %Ln files?</source>
        <translation>
            <numerusform>Abandonner les détails saisis pour %Ln fichier&#x202f;?</numerusform>
            <numerusform>Abandonner les détails saisis pour %Ln fichiers&#x202f;?</numerusform>
        </translation>
    </message>
    <message>
        <source>&amp;Discard</source>
        <translation>&amp;Abandonner</translation>
    </message>
    <message>
        <source>&amp;Keep editing</source>
        <translation>&amp;Continuer la saisie</translation>
    </message>
    <message>
        <source>Could not queue the upload — {problems}</source>
        <translation>Impossible de mettre l&apos;envoi en file d&apos;attente — {problems}</translation>
    </message>
    <message numerus="yes">
        <source>Upload %Ln files</source>
        <translation>
            <numerusform>Envoyer %Ln fichier</numerusform>
            <numerusform>Envoyer %Ln fichiers</numerusform>
        </translation>
    </message>
    <message numerus="yes">
        <source>The shared fields now read the same for all %Ln files.</source>
        <translation>
            <numerusform>Les champs communs sont désormais identiques pour %Ln fichier.</numerusform>
            <numerusform>Les champs communs sont désormais identiques pour les %Ln fichiers.</numerusform>
        </translation>
    </message>
    <message>
        <source>{problem} The hub would refuse it: remove it from the list.</source>
        <translation>{problem} Le hub le refuserait : retirez-le de la liste.</translation>
    </message>
    <message>
        <source>Copy the dateline, language, category, region, country, priority and restrictions to all files</source>
        <translation>Reporter le lieu et la date, la langue, la rubrique, la région, le pays, la priorité et les restrictions sur tous les fichiers</translation>
    </message>
    <message>
        <source>Remo&amp;ve from the list</source>
        <translation>Enle&amp;ver de la liste</translation>
    </message>
    <message>
        <source>{problem} The hub would refuse it.</source>
        <translation>{problem} Le hub le refuserait.</translation>
    </message>
    <message>
        <source>Could not prepare the upload: {error}</source>
        <translation>Impossible de préparer l&apos;envoi : {error}</translation>
    </message>
    <message>
        <source>Preparing… %p%</source>
        <translation>Préparation… %p %</translation>
    </message>
</context>
<context>
    <name>UploadForm</name>
    <message>
        <source>&amp;Title:</source>
        <translation>&amp;Titre :</translation>
    </message>
    <message>
        <source>S&amp;lug:</source>
        <translation>S&amp;lug :</translation>
    </message>
    <message>
        <source>&amp;Dateline:</source>
        <translation>Lieu et &amp;date :</translation>
    </message>
    <message>
        <source>Lan&amp;guage:</source>
        <translation>Lan&amp;gue :</translation>
    </message>
    <message>
        <source>Cat&amp;egory:</source>
        <translation>Ru&amp;brique :</translation>
    </message>
    <message>
        <source>Regi&amp;on:</source>
        <translation>Régi&amp;on :</translation>
    </message>
    <message>
        <source>Countr&amp;y:</source>
        <translation>&amp;Pays :</translation>
    </message>
    <message>
        <source>&amp;Priority:</source>
        <translation>Pr&amp;iorité :</translation>
    </message>
    <message>
        <source>&amp;Restrictions:</source>
        <translation>&amp;Restrictions :</translation>
    </message>
    <message>
        <source>&amp;Script:</source>
        <translation>&amp;Script :</translation>
    </message>
    <message>
        <source>S&amp;hotlist:</source>
        <translation>Liste des pla&amp;ns :</translation>
    </message>
    <message>
        <source>Re&amp;corded:</source>
        <translation>To&amp;urné le :</translation>
    </message>
    <message>
        <source>Tick when you know when the footage was shot</source>
        <translation>Cochez si vous savez quand les images ont été tournées</translation>
    </message>
    <message>
        <source>Recorded date</source>
        <translation>Date de tournage</translation>
    </message>
    <message>
        <source>Thumbnail</source>
        <translation>Vignette</translation>
    </message>
    <message>
        <source>e.g. KENYA-FLOODS</source>
        <translation>ex. KENYA-INONDATIONS</translation>
    </message>
    <message>
        <source>e.g. NAIROBI, Kenya</source>
        <translation>ex. NAIROBI, Kenya</translation>
    </message>
    <message>
        <source>two letters, e.g. KE</source>
        <translation>deux lettres, ex. KE</translation>
    </message>
    <message>
        <source>e.g. No access Kenya</source>
        <translation>ex. Pas d&apos;accès Kenya</translation>
    </message>
    <message>
        <source>{count} of {limit} characters</source>
        <extracomment>under the script or shot list once it nears its limit: &quot;18,500 of 20,000 characters&quot;</extracomment>
        <translation>{count} caractères sur {limit}</translation>
    </message>
    <message>
        <source>{name} — reading the file…</source>
        <translation>{name} — lecture du fichier…</translation>
    </message>
    <message>
        <source>{duration} long</source>
        <translation>durée {duration}</translation>
    </message>
    <message>
        <source>no sound</source>
        <translation>sans son</translation>
    </message>
    <message numerus="yes">
        <source>This is too long: %Ln characters, at most {limit}.</source>
        <extracomment>under a text over its limit; %Ln is its length: &quot;This is too long: 20,001 characters, at most 20,000.&quot;</extracomment>
        <translation>
            <numerusform>Texte trop long&#x202f;: %Ln caractère, {limit} au plus.</numerusform>
            <numerusform>Texte trop long&#x202f;: %Ln caractères, {limit} au plus.</numerusform>
        </translation>
    </message>
    <message>
        <source>The script, shot list and restrictions together are more than the hub takes ({size} KiB of at most {limit} KiB once encoded; Arabic letters and emoji count for more than one): shorten this text.</source>
        <translation>Le script, la liste des plans et les restrictions dépassent ensemble ce que le hub accepte ({size} Kio pour {limit} Kio au plus une fois encodés ; les lettres arabes et les emoji comptent pour plus d&apos;un) : raccourcissez ce texte.</translation>
    </message>
    <message>
        <source>The recording date is in the future; check it (and the camera&apos;s clock).</source>
        <translation>La date d’enregistrement est dans le futur ; vérifiez-la (et l’horloge de la caméra).</translation>
    </message>
    <message>
        <source>The recording date is before 1900.</source>
        <translation>La date d’enregistrement est antérieure à 1900.</translation>
    </message>
    <message>
        <source>A title is needed.</source>
        <translation>Il faut un titre.</translation>
    </message>
    <message>
        <source>The country is a two-letter code, like KE or SN.</source>
        <translation>Le pays s&apos;écrit en deux lettres, comme KE ou SN.</translation>
    </message>
    <message>
        <source>The recording date is not a date.</source>
        <translation>La date de tournage n&apos;est pas une date valide.</translation>
    </message>
    <message>
        <source>The language must be English, French or Arabic.</source>
        <translation>La langue doit être l&apos;anglais, le français ou l&apos;arabe.</translation>
    </message>
    <message>
        <source>The priority must be flash, urgent or routine.</source>
        <translation>La priorité doit être flash, urgent ou routine.</translation>
    </message>
    <message>
        <source>The recording date is in the future (the hub&apos;s clock says {hub_now}); this computer&apos;s clock is {how_long} ahead of the hub&apos;s: check the date, and set the clock right in the system&apos;s date and time settings.</source>
        <translation>La date d’enregistrement est dans le futur (l’horloge du hub indique {hub_now}) ; l’horloge de cet ordinateur avance de {how_long} sur celle du hub&#x202f;: vérifiez la date, et remettez l’horloge à l’heure dans les réglages de date et d’heure du système.</translation>
    </message>
    <message>
        <source>The recording date is in the future (the hub&apos;s clock says {hub_now}); this computer&apos;s clock is {how_long} behind the hub&apos;s: check the date, and set the clock right in the system&apos;s date and time settings.</source>
        <translation>La date d’enregistrement est dans le futur (l’horloge du hub indique {hub_now}) ; l’horloge de cet ordinateur retarde de {how_long} sur celle du hub&#x202f;: vérifiez la date, et remettez l’horloge à l’heure dans les réglages de date et d’heure du système.</translation>
    </message>
</context>
<context>
    <name>WatchErrorsModel</name>
    <message>
        <source>File</source>
        <translation>Fichier</translation>
    </message>
    <message>
        <source>Problem</source>
        <translation>Problème</translation>
    </message>
    <message>
        <source>When</source>
        <translation>Quand</translation>
    </message>
</context>
<context>
    <name>_Ago</name>
    <message numerus="yes">
        <source>%Ln d ago</source>
        <translation>
            <numerusform>il y a %Ln j</numerusform>
            <numerusform>il y a %Ln j</numerusform>
        </translation>
    </message>
</context>
</TS>
