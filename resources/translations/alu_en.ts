<?xml version="1.0" encoding="utf-8"?>
<!DOCTYPE TS>
<TS version="2.1" language="en" sourcelanguage="en">
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
            <numerusform>%Ln hour</numerusform>
            <numerusform>%Ln hours</numerusform>
        </translation>
    </message>
    <message numerus="yes">
        <source>%Ln days</source>
        <translation>
            <numerusform>%Ln day</numerusform>
            <numerusform>%Ln days</numerusform>
        </translation>
    </message>
</context>
<context>
    <name>FeedPanel</name>
    <message numerus="yes">
        <source>%Ln unread</source>
        <translation>
            <numerusform>%Ln unread</numerusform>
            <numerusform>%Ln unread</numerusform>
        </translation>
    </message>
    <message numerus="yes">
        <source>Already downloaded: “{title}” and %Ln more</source>
        <translation>
            <numerusform>Already downloaded: “{title}” and %Ln more</numerusform>
            <numerusform>Already downloaded: “{title}” and %Ln more</numerusform>
        </translation>
    </message>
</context>
<context>
    <name>FilterBar</name>
    <message numerus="yes">
        <source>Last %Ln hours</source>
        <translation>
            <numerusform>Last hour</numerusform>
            <numerusform>Last %Ln hours</numerusform>
        </translation>
    </message>
    <message numerus="yes">
        <source>Last %Ln days</source>
        <translation>
            <numerusform>Last day</numerusform>
            <numerusform>Last %Ln days</numerusform>
        </translation>
    </message>
</context>
<context>
    <name>HistoryPanel</name>
    <message numerus="yes">
        <source>%Ln events waiting to be sent to the hub</source>
        <translation>
            <numerusform>%Ln event waiting to be sent to the hub</numerusform>
            <numerusform>%Ln events waiting to be sent to the hub</numerusform>
        </translation>
    </message>
</context>
<context>
    <name>ItemDetail</name>
    <message numerus="yes">
        <source>%Ln channels</source>
        <extracomment>the audio channels of a file: &quot;1 channel&quot;, &quot;2 channels&quot;</extracomment>
        <translation>
            <numerusform>%Ln channel</numerusform>
            <numerusform>%Ln channels</numerusform>
        </translation>
    </message>
</context>
<context>
    <name>ItemNoticeBoard</name>
    <message numerus="yes">
        <source>Corrected by the agency: usage restrictions of %Ln items changed.</source>
        <translation>
            <numerusform>Corrected by the agency: usage restrictions of %Ln item changed.</numerusform>
            <numerusform>Corrected by the agency: usage restrictions of %Ln items changed.</numerusform>
        </translation>
    </message>
    <message numerus="yes">
        <source>⚠ %Ln items withdrawn</source>
        <translation>
            <numerusform>⚠ %Ln item withdrawn</numerusform>
            <numerusform>⚠ %Ln items withdrawn</numerusform>
        </translation>
    </message>
    <message numerus="yes">
        <source>and %Ln more</source>
        <translation>
            <numerusform>and %Ln more</numerusform>
            <numerusform>and %Ln more</numerusform>
        </translation>
    </message>
</context>
<context>
    <name>LibraryPanel</name>
    <message numerus="yes">
        <source>%Ln files are the low-resolution proxy, their broadcast file not being on this workstation: {names}</source>
        <translation>
            <numerusform>%Ln file is the low-resolution proxy, its broadcast file not being on this workstation: {names}</numerusform>
            <numerusform>%Ln files are the low-resolution proxy, their broadcast file not being on this workstation: {names}</numerusform>
        </translation>
    </message>
    <message numerus="yes">
        <source>Copied %Ln files to {folder}</source>
        <translation>
            <numerusform>Copied %Ln file to {folder}</numerusform>
            <numerusform>Copied %Ln files to {folder}</numerusform>
        </translation>
    </message>
    <message numerus="yes">
        <source>Copied %Ln of {total} files to {folder}; not copied: {failed}</source>
        <translation>
            <numerusform>Copied %Ln of {total} files to {folder}; not copied: {failed}</numerusform>
            <numerusform>Copied %Ln of {total} files to {folder}; not copied: {failed}</numerusform>
        </translation>
    </message>
    <message numerus="yes">
        <source>Copy stopped: %Ln of {total} files copied to {folder}</source>
        <translation>
            <numerusform>Copy stopped: %Ln of {total} files copied to {folder}</numerusform>
            <numerusform>Copy stopped: %Ln of {total} files copied to {folder}</numerusform>
        </translation>
    </message>
    <message numerus="yes">
        <source>Delete the local files of %Ln items?</source>
        <translation>
            <numerusform>Delete the local file of %Ln item?</numerusform>
            <numerusform>Delete the local files of %Ln items?</numerusform>
        </translation>
    </message>
    <message numerus="yes">
        <source>The %Ln items stay in the Feed and can be downloaded again there.</source>
        <translation>
            <numerusform>The item stays in the Feed and can be downloaded again there.</numerusform>
            <numerusform>The %Ln items stay in the Feed and can be downloaded again there.</numerusform>
        </translation>
    </message>
</context>
<context>
    <name>MainWindow</name>
    <message numerus="yes">
        <source>Library (⚠ %Ln withdrawn)</source>
        <translation>
            <numerusform>Library (⚠ %Ln withdrawn)</numerusform>
            <numerusform>Library (⚠ %Ln withdrawn)</numerusform>
        </translation>
    </message>
</context>
<context>
    <name>RulesModel</name>
    <message numerus="yes">
        <source>⚠ %1 — cannot be written; %Ln items waiting</source>
        <translation>
            <numerusform>⚠ %1 — cannot be written; %Ln item waiting</numerusform>
            <numerusform>⚠ %1 — cannot be written; %Ln items waiting</numerusform>
        </translation>
    </message>
</context>
<context>
    <name>RulesPage</name>
    <message numerus="yes">
        <source>The rule %1 has %Ln downloads that have not finished. Cancel them with the rule, or let them finish?</source>
        <translation>
            <numerusform>The rule %1 has %Ln download that has not finished. Cancel it with the rule, or let it finish?</numerusform>
            <numerusform>The rule %1 has %Ln downloads that have not finished. Cancel them with the rule, or let them finish?</numerusform>
        </translation>
    </message>
    <message numerus="yes">
        <source>The rule %1 has %Ln downloads that have not finished. Turning it off does not stop them: cancel them, or let them finish?</source>
        <translation>
            <numerusform>The rule %1 has %Ln download that has not finished. Turning it off does not stop it: cancel it, or let it finish?</numerusform>
            <numerusform>The rule %1 has %Ln downloads that have not finished. Turning it off does not stop them: cancel them, or let them finish?</numerusform>
        </translation>
    </message>
    <message numerus="yes">
        <source>Cancel its %Ln downloads</source>
        <translation>
            <numerusform>Cancel its download</numerusform>
            <numerusform>Cancel its %Ln downloads</numerusform>
        </translation>
    </message>
</context>
<context>
    <name>StatusBar</name>
    <message numerus="yes">
        <source>⚠ Rule “%1”: %Ln items waiting</source>
        <translation>
            <numerusform>⚠ Rule “%1”: %Ln item waiting</numerusform>
            <numerusform>⚠ Rule “%1”: %Ln items waiting</numerusform>
        </translation>
    </message>
    <message numerus="yes">
        <source>⚠ Rules: %Ln items waiting</source>
        <translation>
            <numerusform>⚠ Rules: %Ln item waiting</numerusform>
            <numerusform>⚠ Rules: %Ln items waiting</numerusform>
        </translation>
    </message>
    <message numerus="yes">
        <source>Rule “%1”: %2; %Ln items waiting, downloaded once the folder can be written.</source>
        <translation>
            <numerusform>Rule “%1”: %2; %Ln item waiting, downloaded once the folder can be written.</numerusform>
            <numerusform>Rule “%1”: %2; %Ln items waiting, downloaded once the folder can be written.</numerusform>
        </translation>
    </message>
</context>
<context>
    <name>TransfersPanel</name>
    <message numerus="yes">
        <source>Cancel %Ln transfers?</source>
        <translation>
            <numerusform>Cancel %Ln transfer?</numerusform>
            <numerusform>Cancel %Ln transfers?</numerusform>
        </translation>
    </message>
</context>
<context>
    <name>Tray</name>
    <message numerus="yes">
        <source>%Ln items downloaded</source>
        <translation>
            <numerusform>%Ln item downloaded</numerusform>
            <numerusform>%Ln items downloaded</numerusform>
        </translation>
    </message>
    <message numerus="yes">
        <source>and %Ln more</source>
        <translation>
            <numerusform>and %Ln more</numerusform>
            <numerusform>and %Ln more</numerusform>
        </translation>
    </message>
    <message numerus="yes">
        <source>%Ln more items with usage restrictions</source>
        <translation>
            <numerusform>%Ln more item with usage restrictions</numerusform>
            <numerusform>%Ln more items with usage restrictions</numerusform>
        </translation>
    </message>
    <message numerus="yes">
        <source>%Ln items withdrawn by the agency</source>
        <translation>
            <numerusform>%Ln item withdrawn by the agency</numerusform>
            <numerusform>%Ln items withdrawn by the agency</numerusform>
        </translation>
    </message>
    <message numerus="yes">
        <source>Usage restrictions of %Ln items corrected</source>
        <translation>
            <numerusform>Usage restrictions of %Ln item corrected</numerusform>
            <numerusform>Usage restrictions of %Ln items corrected</numerusform>
        </translation>
    </message>
</context>
<context>
    <name>UploadDialog</name>
    <message numerus="yes">
        <source>Upload %Ln files</source>
        <translation>
            <numerusform>Upload %Ln file</numerusform>
            <numerusform>Upload %Ln files</numerusform>
        </translation>
    </message>
    <message numerus="yes">
        <source>The details you typed before ALU Desk closed are back for %Ln files.</source>
        <translation>
            <numerusform>The details you typed before ALU Desk closed are back for %Ln file.</numerusform>
            <numerusform>The details you typed before ALU Desk closed are back for %Ln files.</numerusform>
        </translation>
    </message>
    <message numerus="yes">
        <source>The shared fields now read the same for all %Ln files.</source>
        <translation>
            <numerusform>The shared fields now read the same for %Ln file.</numerusform>
            <numerusform>The shared fields now read the same for all %Ln files.</numerusform>
        </translation>
    </message>
    <message numerus="yes">
        <source>The hub would refuse %Ln files: {names}. Remove them from the list.</source>
        <translation>
            <numerusform>The hub would refuse %Ln file: {names}. Remove it from the list.</numerusform>
            <numerusform>The hub would refuse %Ln files: {names}. Remove them from the list.</numerusform>
        </translation>
    </message>
    <message numerus="yes">
        <source>Send %Ln files again? Each would make another item in every feed.</source>
        <translation>
            <numerusform>Send %Ln file again? It would make another item in every feed.</numerusform>
            <numerusform>Send %Ln files again? Each would make another item in every feed.</numerusform>
        </translation>
    </message>
    <message numerus="yes">
        <source>Discard the details you typed for %Ln files?</source>
        <translation>
            <numerusform>Discard the details you typed for %Ln file?</numerusform>
            <numerusform>Discard the details you typed for %Ln files?</numerusform>
        </translation>
    </message>
</context>
<context>
    <name>UploadForm</name>
    <message numerus="yes">
        <source>This is too long: %Ln characters, at most {limit}.</source>
        <extracomment>under a text over its limit; %Ln is its length: &quot;This is too long: 20,001 characters, at most 20,000.&quot;</extracomment>
        <translation>
            <numerusform>This is too long: %Ln character, at most {limit}.</numerusform>
            <numerusform>This is too long: %Ln characters, at most {limit}.</numerusform>
        </translation>
    </message>
</context>
<context>
    <name>_Ago</name>
    <message numerus="yes">
        <source>%Ln d ago</source>
        <translation>
            <numerusform>%Ln d ago</numerusform>
            <numerusform>%Ln d ago</numerusform>
        </translation>
    </message>
</context>
</TS>
