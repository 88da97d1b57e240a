"""The transfer engine's messages, and why the app is offline, in the user's language.

The engine (``alu_client.core``) has no Qt and words its messages in English: they reach the
transfer list as ``last_error`` and the history as notes, and the CLI prints them as they are.
The hub client's errors are the sync's reasons for being offline or signed out (the status
bar's tooltip): they are templates here too, as are the library's reasons for leaving a file
in place (Library → Delete local file), and the hot folders' problems with a file (Settings →
Hot folders, "Problem"), some of which carry a sentence of their own (``_NESTED``).
Here each one the engine can say is a template, marked for Qt Linguist, with ``%1``, ``%2`` …
where the engine puts a detail (an HTTP status, a size, a file name, the server's own words).
``shown`` finds the template a message was made from and fills the translated template with
the same details; a message no template matches (a new one, a server's) is shown as it is.
A count the core writes as a plain integer is shown in the user's digits (``_COUNTS``).
``tests/gui/test_engine_text.py`` checks that every message the engine's, the hub client's and
the hot folders' sources can make has a template here, so a new message without one fails the
tests.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from functools import cache

from PySide6.QtCore import QT_TRANSLATE_NOOP, QCoreApplication

from . import media_text
from .formats import PDI, count_text, isolated
from .os_text import os_error_text, os_text

CONTEXT = "EngineMessage"

_MARKED = (
    # downloads
    QT_TRANSLATE_NOOP("EngineMessage", "The connection stalled; resuming."),
    QT_TRANSLATE_NOOP("EngineMessage", "The connection to the server was cut; resuming."),
    QT_TRANSLATE_NOOP(
        "EngineMessage", "The server closed the connection before the end of the file; resuming."
    ),
    QT_TRANSLATE_NOOP("EngineMessage", "The server could not be reached; trying again."),
    QT_TRANSLATE_NOOP(
        "EngineMessage",
        "The server sent an answer that is not valid HTTP: two different lengths "
        "(Content-Length) for one answer. It is not tried again; tell whoever runs the server.",
    ),
    QT_TRANSLATE_NOOP("EngineMessage", "The server did not answer in time; trying again."),
    QT_TRANSLATE_NOOP(
        "EngineMessage",
        "The downloaded file was damaged (checksum mismatch); downloading it again.",
    ),
    QT_TRANSLATE_NOOP(
        "EngineMessage",
        "The server's file is not the one expected: it arrived twice with the same different "
        "checksum, so it is not damage on the way. Nothing was kept; tell the agency.",
    ),
    QT_TRANSLATE_NOOP(
        "EngineMessage", "The file changed on the server; downloading it again from the start."
    ),
    QT_TRANSLATE_NOOP(
        "EngineMessage",
        "The server cannot resume downloads; downloading the file again from the start.",
    ),
    QT_TRANSLATE_NOOP("EngineMessage", "The server compressed the file; asking again."),
    QT_TRANSLATE_NOOP(
        "EngineMessage",
        "The server keeps sending the file compressed, so it cannot be checked or resumed. "
        "Tell the agency.",
    ),
    QT_TRANSLATE_NOOP("EngineMessage", "The server sent more data than the file's size."),
    QT_TRANSLATE_NOOP(
        "EngineMessage",
        "The server has no file at this address (HTTP %1): it was removed, or the address is "
        "wrong.",
    ),
    QT_TRANSLATE_NOOP("EngineMessage", "The server sent the wrong part of the file; asking again."),
    QT_TRANSLATE_NOOP(
        "EngineMessage", "The disk is full; the download will continue when space is freed."
    ),
    QT_TRANSLATE_NOOP("EngineMessage", "The download address is not valid."),
    QT_TRANSLATE_NOOP(
        "EngineMessage",
        "The file kept changing on the server while it was downloading; trying again later.",
    ),
    QT_TRANSLATE_NOOP("EngineMessage", "The secure connection to the server failed; trying again."),
    QT_TRANSLATE_NOOP(
        "EngineMessage", "The server is busy (HTTP 429); the download will try again later."
    ),
    QT_TRANSLATE_NOOP("EngineMessage", "The server redirected the download too many times."),
    QT_TRANSLATE_NOOP(
        "EngineMessage", "The server sent the download elsewhere without saying where."
    ),
    QT_TRANSLATE_NOOP(
        "EngineMessage", "The server sent the download to an address that is not valid."
    ),
    QT_TRANSLATE_NOOP(
        "EngineMessage",
        "The storage the server sent the download to refused its link (expired?); asking the "
        "server for a new one.",
    ),
    QT_TRANSLATE_NOOP(
        "EngineMessage",
        "The server refused access (HTTP %1). Sign in again, or ask the agency whether your "
        "newsroom may download this item.",
    ),
    QT_TRANSLATE_NOOP(
        "EngineMessage", "The server could not send the file just now (HTTP %1); trying again."
    ),
    # a download of an item the agency withdrew, canceled: %1 is the agency's reason
    QT_TRANSLATE_NOOP("EngineMessage", "The agency withdrew this item: %1"),
    QT_TRANSLATE_NOOP(
        "EngineMessage",
        "The server gave an unexpected answer (HTTP %1); check the address, or tell whoever "
        "runs the server.",
    ),
    QT_TRANSLATE_NOOP(
        "EngineMessage",
        "The link stopped working part-way through the file (it expired?); get a new link and "
        "download it again with that one: it goes on from where it stopped.",
    ),
    QT_TRANSLATE_NOOP(
        "EngineMessage",
        "The network asks for a sign-in (HTTP 511): open any web page in a browser on this "
        "computer and sign in to the network; the transfer goes on after.",
    ),
    QT_TRANSLATE_NOOP("EngineMessage", "The download folder cannot be written to (%1)."),
    QT_TRANSLATE_NOOP(
        "EngineMessage",
        "The file is too large for the download folder's disk (FAT32 and some USB disks hold "
        "files of at most 4 GB); choose a folder on another disk.",
    ),
    # %1 the file's name, %2 its size, %3 the disk's ("53 MB", "4.8 GB")
    QT_TRANSLATE_NOOP(
        "EngineMessage",
        "“%1” (%2) is larger than the whole disk that holds its folder (%3 in all): no freeing "
        "of space can make room for it; choose a folder on another disk.",
    ),
    # %1 the file's name, %2 the room it needs on top of what is free ("30 MB")
    QT_TRANSLATE_NOOP(
        "EngineMessage",
        "The disk is full: “%1” needs %2 more; the download will continue when that much space "
        "is freed.",
    ),
    QT_TRANSLATE_NOOP(
        "EngineMessage", "The file could not be written to the disk (%1); trying again."
    ),
    QT_TRANSLATE_NOOP(
        "EngineMessage",
        "The file is downloaded and checked, but another program (an antivirus, OneDrive, the "
        "search indexer?) keeps it open; it is put in place at the next try.",
    ),
    QT_TRANSLATE_NOOP(
        "EngineMessage",
        "The server offers a shorter file than expected (%1 bytes instead of %2); trying again "
        "later.",
    ),
    QT_TRANSLATE_NOOP(
        "EngineMessage", "A file named “%1” appeared there meanwhile; choose another name."
    ),
    QT_TRANSLATE_NOOP("EngineMessage", "A file named “%1” is already there; choose another name."),
    QT_TRANSLATE_NOOP(
        "EngineMessage",
        "Another download is writing “%1” right now (from another ALU Desk or data folder); "
        "this one waits and tries again.",
    ),
    QT_TRANSLATE_NOOP(
        "EngineMessage",
        "A file named “%1” is already there and this download did not make it (another "
        "download to the same name, or another program); move it away or choose another name.",
    ),
    QT_TRANSLATE_NOOP(
        "EngineMessage",
        "Another download left “%1” unfinished; this one saves the file as “%2”.",
    ),
    QT_TRANSLATE_NOOP(
        "EngineMessage", "The file cannot be saved there (%1); choose another folder or name."
    ),
    QT_TRANSLATE_NOOP(
        "EngineMessage",
        "The download folder's path is too long for Windows: choose a shorter folder.",
    ),
    QT_TRANSLATE_NOOP(
        "EngineMessage",
        "The file's path is too long for Windows (more than 259 characters with its folder): "
        "choose a shorter folder or name.",
    ),
    QT_TRANSLATE_NOOP(
        "EngineMessage",
        "The server sent the download to another address, which asks for a sign-in; the "
        "credentials given are not sent to another server. Use that address directly, with "
        "its own credentials.",
    ),
    QT_TRANSLATE_NOOP("EngineMessage", "The hub took none of the piece it was sent."),
    QT_TRANSLATE_NOOP("EngineMessage", "The hub could not join the parts yet; it will try again."),
    QT_TRANSLATE_NOOP(
        "EngineMessage",
        "This transfer's record in the library is damaged; cancel it and add the file again.",
    ),
    QT_TRANSLATE_NOOP(
        "EngineMessage",
        "The server asks for a sign-in, and none was sent to the address it gave for the "
        "upload; check the address and the credentials given.",
    ),
    # uploads
    QT_TRANSLATE_NOOP(
        "EngineMessage",
        "Another connection is still writing to this upload at the hub; it will go on later.",
    ),
    QT_TRANSLATE_NOOP(
        "EngineMessage", "Pieces of the file kept arriving damaged at the hub; it will try again."
    ),
    QT_TRANSLATE_NOOP("EngineMessage", "The connection to the hub dropped."),
    QT_TRANSLATE_NOOP("EngineMessage", "The link stalled."),
    QT_TRANSLATE_NOOP(
        "EngineMessage", "The hub and this computer disagreed on how much had arrived."
    ),
    QT_TRANSLATE_NOOP(
        "EngineMessage",
        "The hub answered with a redirect, which an upload does not follow; check the hub's "
        "address.",
    ),
    QT_TRANSLATE_NOOP("EngineMessage", "The hub could not be reached; the upload will try again."),
    QT_TRANSLATE_NOOP(
        "EngineMessage", "The hub did not accept this sign-in; sign in again, then retry."
    ),
    QT_TRANSLATE_NOOP("EngineMessage", "The hub did not say where the joined file is."),
    QT_TRANSLATE_NOOP(
        "EngineMessage", "The hub did not say where to send the file; is it a tus server?"
    ),
    QT_TRANSLATE_NOOP(
        "EngineMessage",
        "The hub gave an address for the upload that cannot be used; tell whoever runs it.",
    ),
    QT_TRANSLATE_NOOP("EngineMessage", "The upload address is not valid."),
    QT_TRANSLATE_NOOP(
        "EngineMessage", "The server kept less of the file than it had confirmed; sending the rest."
    ),
    QT_TRANSLATE_NOOP(
        "EngineMessage",
        "The server joined the parts into a file shorter than this one; add the file again.",
    ),
    QT_TRANSLATE_NOOP(
        "EngineMessage",
        "The hub has no upload service at this address; check the hub's address.",
    ),
    QT_TRANSLATE_NOOP("EngineMessage", "The hub lost the upload again; it will try later."),
    QT_TRANSLATE_NOOP("EngineMessage", "The hub no longer has this upload."),
    QT_TRANSLATE_NOOP("EngineMessage", "The hub's answer had an unexpected offset."),
    QT_TRANSLATE_NOOP("EngineMessage", "The hub's answer had no usable offset."),
    QT_TRANSLATE_NOOP(
        "EngineMessage",
        "The hub stopped waiting for the upload's bytes (HTTP 408); the upload goes on from "
        "what it received.",
    ),
    QT_TRANSLATE_NOOP(
        "EngineMessage", "The network does not pass PATCH; the chunk goes again as POST."
    ),
    QT_TRANSLATE_NOOP(
        "EngineMessage",
        "The server at this address does not take uploads (HTTP 501); check the address.",
    ),
    QT_TRANSLATE_NOOP(
        "EngineMessage",
        "The server does not speak the upload protocol version this app uses (tus 1.0).",
    ),
    QT_TRANSLATE_NOOP("EngineMessage", "The file changed since the upload started; add it again."),
    QT_TRANSLATE_NOOP(
        "EngineMessage",
        "The download folder %1 is not there (a drive unplugged, or a network share away); "
        "plug it in, or choose another folder in Settings.",
    ),
    QT_TRANSLATE_NOOP(
        "EngineMessage",
        "The file changed during the upload; its content is checked before the upload goes on.",
    ),
    QT_TRANSLATE_NOOP(
        "EngineMessage",
        "The hub had lost the partial upload; it started again from the beginning.",
    ),
    QT_TRANSLATE_NOOP(
        "EngineMessage",
        "The partial upload had expired at the hub; it started again from the beginning.",
    ),
    # (a hub replaced by another one at its address: profiles.forget_replaced_hub; worded
    # without "the hub", which a plain server's words would change)
    QT_TRANSLATE_NOOP(
        "EngineMessage",
        "This item was on the agency's previous hub at this address; the new hub there does "
        "not have it. Nothing was deleted here: download the item again from the feed if the "
        "new hub has it.",
    ),
    QT_TRANSLATE_NOOP(
        "EngineMessage",
        "The agency's hub at this address was replaced by a new one; the upload starts again "
        "from the beginning on the new hub.",
    ),
    QT_TRANSLATE_NOOP(
        "EngineMessage",
        "The connection dropped just as the hub was joining the parts of the file, and this "
        "computer could not learn what became of it; check the feed before adding the file "
        "again.",
    ),
    QT_TRANSLATE_NOOP("EngineMessage", "The hub received %1 but could not publish it: %2"),
    QT_TRANSLATE_NOOP("EngineMessage", "The file is %1, larger than the %2 the hub accepts."),
    QT_TRANSLATE_NOOP("EngineMessage", "The hub does not accept a file this large (%1)."),
    QT_TRANSLATE_NOOP(
        "EngineMessage",
        "The hub does not accept the item's texts: the script, shot list and restrictions are "
        "too long together. Shorten them and upload the file again.",
    ),
    QT_TRANSLATE_NOOP("EngineMessage", "The hub refused the upload for this account: %1"),
    QT_TRANSLATE_NOOP("EngineMessage", "The hub refused the upload: %1"),
    # a file already on the network as another's item (an agency clip a shared hot folder
    # picked up): %1 its title, %2 (agency) the date it was published (2026-12-06), or %2 the
    # member who sent it and %3 the date
    QT_TRANSLATE_NOOP(
        "EngineMessage",
        "This file is already on the network: it is the agency's “%1” (published %2). It was "
        "not published again.",
    ),
    QT_TRANSLATE_NOOP(
        "EngineMessage",
        "This file is already on the network: it is “%1”, sent by %2 (published %3). It was "
        "not published again.",
    ),
    QT_TRANSLATE_NOOP(
        "EngineMessage",
        "The hub is busy or had a problem (HTTP %1); the upload will go on later.",
    ),
    QT_TRANSLATE_NOOP(
        "EngineMessage",
        "The hub's disk is full; the upload will go on once the agency has made room.",
    ),
    QT_TRANSLATE_NOOP(
        "EngineMessage", "The hub is busy or unavailable (HTTP %1); it will try again."
    ),
    QT_TRANSLATE_NOOP("EngineMessage", "The upload detail %1 has a name a hub cannot take."),
    QT_TRANSLATE_NOOP(
        "EngineMessage", "The hub refuses even pieces of %1; it cannot take this upload."
    ),
    QT_TRANSLATE_NOOP(
        "EngineMessage",
        "The file %1 is no longer there (moved or deleted); it cannot be uploaded.",
    ),
    QT_TRANSLATE_NOOP(
        "EngineMessage",
        "The file %1 cannot be read (permission denied); it cannot be uploaded.",
    ),
    QT_TRANSLATE_NOOP(
        "EngineMessage",
        "The file %1 cannot be reached now (its folder or drive is away: a network share?); "
        "the upload goes on when it is back.",
    ),
    QT_TRANSLATE_NOOP(
        "EngineMessage",
        "The file %1 is in use by another program (still being exported or copied?); the "
        "upload goes on when it is free.",
    ),
    QT_TRANSLATE_NOOP(
        "EngineMessage",
        "The file %1 was replaced by a link (a shortcut to a file elsewhere) after it was taken "
        "from the hot folder: links are not followed, so it was not uploaded. Put the file "
        "itself in the folder.",
    ),
    # what any transfer connection can meet (core/http.py)
    QT_TRANSLATE_NOOP(
        "EngineMessage",
        "The server's security certificate was refused (is the computer's date right, or is a "
        "network login page in the way? A network with its own certificate authority needs its "
        "CA bundle in the hub's profile).",
    ),
    QT_TRANSLATE_NOOP(
        "EngineMessage",
        "The server's answer has more header lines than this app reads (over 100, or one over "
        "256 KiB), so it cannot be used; tell whoever runs the server.",
    ),
    # the queue's words for what the engine did not foresee
    QT_TRANSLATE_NOOP("EngineMessage", "Cancelled."),
    QT_TRANSLATE_NOOP("EngineMessage", "Paused."),
    QT_TRANSLATE_NOOP(
        "EngineMessage", "The disk is full. The transfer resumes when there is space again."
    ),
    QT_TRANSLATE_NOOP(
        "EngineMessage",
        "The disk that holds ALU Desk's data folder is full; the transfer goes on when there is "
        "space there again.",
    ),
    QT_TRANSLATE_NOOP(
        "EngineMessage",
        "ALU Desk's library cannot be written; the transfer goes on when it can be written again.",
    ),
    QT_TRANSLATE_NOOP(
        "EngineMessage",
        "The disk that holds ALU Desk's data folder is full; the history is synced when there is "
        "space there again.",
    ),
    QT_TRANSLATE_NOOP(
        "EngineMessage",
        "The hub's security certificate could not be checked (is the computer's date right, or "
        "is a network login page in the way?); the transfer will be tried again.",
    ),
    QT_TRANSLATE_NOOP(
        "EngineMessage",
        "The hub's security certificate could not be checked (is the computer's date right, or "
        "is a network login page in the way?); the transfer has stopped; you can try it again "
        "from the list.",
    ),
    QT_TRANSLATE_NOOP(
        "EngineMessage", "The hub did not answer in time; the transfer will be tried again."
    ),
    QT_TRANSLATE_NOOP(
        "EngineMessage",
        "The hub did not answer in time; the transfer has stopped; you can try it again from "
        "the list.",
    ),
    QT_TRANSLATE_NOOP(
        "EngineMessage", "The connection to the hub was lost; the transfer will be tried again."
    ),
    QT_TRANSLATE_NOOP(
        "EngineMessage",
        "The connection to the hub was lost; the transfer has stopped; you can try it again "
        "from the list.",
    ),
    QT_TRANSLATE_NOOP(
        "EngineMessage",
        "The hub answered with an error (%1); the transfer will be tried again.",
    ),
    QT_TRANSLATE_NOOP(
        "EngineMessage",
        "The hub answered with an error (%1); the transfer has stopped; you can try it again "
        "from the list.",
    ),
    QT_TRANSLATE_NOOP(
        "EngineMessage",
        "Something went wrong in ALU Desk (%1); the transfer will be tried again.",
    ),
    QT_TRANSLATE_NOOP(
        "EngineMessage",
        "Something went wrong in ALU Desk (%1); the transfer has stopped; you can try it again "
        "from the list.",
    ),
    # a proxy on the way (core/http.py)
    QT_TRANSLATE_NOOP(
        "EngineMessage",
        "The network's proxy (%1) wants a user name and password (HTTP 407) to reach %2. Give "
        "them with the profile's proxy (in the app's settings, or alu login --proxy "
        "http://user:password@proxy:3128; kept in the keyring) or in the system's proxy "
        "setting, or ask the network's administrator to let this computer through without one.",
    ),
    QT_TRANSLATE_NOOP(
        "EngineMessage",
        "The network's proxy wants a user name and password (HTTP 407) to reach %1. Give them "
        "with the profile's proxy (in the app's settings, or alu login --proxy "
        "http://user:password@proxy:3128; kept in the keyring) or in the system's proxy "
        "setting, or ask the network's administrator to let this computer through without one.",
    ),
    QT_TRANSLATE_NOOP(
        "EngineMessage",
        "The network's proxy (%1) did not accept the user name and password given for it "
        "(HTTP 407) to reach %2. "
        "Check them where they were given (the profile's proxy, in the app's settings or with "
        "alu login --proxy, or the system's proxy setting such as HTTPS_PROXY), or ask the "
        "network's administrator.",
    ),
    QT_TRANSLATE_NOOP(
        "EngineMessage",
        "The network's proxy did not accept the user name and password given for it (HTTP "
        "407) to reach %1. "
        "Check them where they were given (the profile's proxy, in the app's settings or with "
        "alu login --proxy, or the system's proxy setting such as HTTPS_PROXY), or ask the "
        "network's administrator.",
    ),
    QT_TRANSLATE_NOOP(
        "EngineMessage",
        "The network's proxy (%1) could not reach %2 (HTTP %3); trying again later.",
    ),
    QT_TRANSLATE_NOOP(
        "EngineMessage",
        "The network's proxy could not reach %1 (HTTP %2); trying again later.",
    ),
    QT_TRANSLATE_NOOP(
        "EngineMessage",
        "The network's proxy (%1) refused to pass the request to %2 (HTTP %3); check the proxy "
        "settings, or ask the network's administrator to let this computer reach it.",
    ),
    QT_TRANSLATE_NOOP(
        "EngineMessage",
        "The network's proxy refused to pass the request to %1 (HTTP %2); check the proxy "
        "settings, or ask the network's administrator to let this computer reach it.",
    ),
    QT_TRANSLATE_NOOP(
        "EngineMessage",
        "The server's security certificate was refused (%1). Is the computer's date right, or "
        "is a network login page in the way? A network with its own certificate authority "
        "needs its CA bundle: in the profile (the app's sign-in, alu login --ca-bundle), or in "
        "REQUESTS_CA_BUNDLE or SSL_CERT_FILE for alu fetch and alu tus-put.",
    ),
    QT_TRANSLATE_NOOP(
        "EngineMessage",
        "The server did not answer in TLS (https) at this address: is its port one for plain "
        "http, or is a network login page in the way?",
    ),
    QT_TRANSLATE_NOOP(
        "EngineMessage",
        "The server answered with something that is not HTTP: check the address (is its port "
        "one for another service?).",
    ),
    QT_TRANSLATE_NOOP(
        "EngineMessage", "The network's proxy (%1) cannot be reached; check the proxy settings."
    ),
    QT_TRANSLATE_NOOP(
        "EngineMessage", "The network's proxy cannot be reached; check the proxy settings."
    ),
    QT_TRANSLATE_NOOP(
        "EngineMessage",
        "The security certificate of the network's proxy (%1) was refused (%2), so the server "
        "was not reached. Is the computer's date right? The proxy's certificate authority must "
        "be trusted: add it to the system's certificate store, or give a CA bundle that holds "
        "it and the server's authority (a bundle given is the only one trusted): in the profile "
        "(the app's sign-in, alu login --ca-bundle), or in REQUESTS_CA_BUNDLE or SSL_CERT_FILE "
        "for alu fetch and alu tus-put.",
    ),
    QT_TRANSLATE_NOOP(
        "EngineMessage",
        "The security certificate of the network's proxy was refused (%1), so the server was "
        "not reached. Is the computer's date right? The proxy's certificate authority must be "
        "trusted: add it to the system's certificate store, or give a CA bundle that holds it "
        "and the server's authority (a bundle given is the only one trusted): in the profile "
        "(the app's sign-in, alu login --ca-bundle), or in REQUESTS_CA_BUNDLE or SSL_CERT_FILE "
        "for alu fetch and alu tus-put.",
    ),
    # the same, said of a server that is no ALU hub (`alu fetch`, `alu tus-put` to any server:
    # ``retry.in_server_words``), as a transfer of the command line shows in the app
    QT_TRANSLATE_NOOP(
        "EngineMessage",
        "The server's file is not the one expected: it arrived twice with the same different "
        "checksum, so it is not damage on the way. Nothing was kept; check the checksum you "
        "gave, or tell whoever runs the server.",
    ),
    QT_TRANSLATE_NOOP(
        "EngineMessage",
        "The server keeps sending the file compressed, so it cannot be checked or resumed. "
        "Tell whoever runs the server.",
    ),
    QT_TRANSLATE_NOOP(
        "EngineMessage",
        "The server refused access (HTTP %1). Check the credentials given, or ask whoever runs "
        "the server.",
    ),
    QT_TRANSLATE_NOOP(
        "EngineMessage",
        "The server refused the upload (is the address one for tus uploads? Check it and the "
        "credentials given): %1",
    ),
    QT_TRANSLATE_NOOP("EngineMessage", "The server took none of the piece it was sent."),
    QT_TRANSLATE_NOOP(
        "EngineMessage", "The server could not join the parts yet; it will try again."
    ),
    QT_TRANSLATE_NOOP(
        "EngineMessage",
        "Another connection is still writing to this upload at the server; it will go on later.",
    ),
    QT_TRANSLATE_NOOP(
        "EngineMessage",
        "Pieces of the file kept arriving damaged at the server; it will try again.",
    ),
    QT_TRANSLATE_NOOP("EngineMessage", "The connection to the server dropped."),
    QT_TRANSLATE_NOOP(
        "EngineMessage", "The server and this computer disagreed on how much had arrived."
    ),
    QT_TRANSLATE_NOOP(
        "EngineMessage",
        "The server answered with a redirect, which an upload does not follow; check the server's "
        "address.",
    ),
    QT_TRANSLATE_NOOP(
        "EngineMessage", "The server could not be reached; the upload will try again."
    ),
    QT_TRANSLATE_NOOP(
        "EngineMessage", "The server did not accept this sign-in; sign in again, then retry."
    ),
    QT_TRANSLATE_NOOP("EngineMessage", "The server did not say where the joined file is."),
    QT_TRANSLATE_NOOP(
        "EngineMessage", "The server did not say where to send the file; is it a tus server?"
    ),
    QT_TRANSLATE_NOOP(
        "EngineMessage",
        "The server gave an address for the upload that cannot be used; tell whoever runs it.",
    ),
    QT_TRANSLATE_NOOP(
        "EngineMessage",
        "The server has no upload service at this address; check the server's address.",
    ),
    QT_TRANSLATE_NOOP("EngineMessage", "The server lost the upload again; it will try later."),
    QT_TRANSLATE_NOOP("EngineMessage", "The server no longer has this upload."),
    QT_TRANSLATE_NOOP("EngineMessage", "The server's answer had an unexpected offset."),
    QT_TRANSLATE_NOOP("EngineMessage", "The server's answer had no usable offset."),
    QT_TRANSLATE_NOOP(
        "EngineMessage",
        "The server stopped waiting for the upload's bytes (HTTP 408); the upload goes on from "
        "what it received.",
    ),
    QT_TRANSLATE_NOOP(
        "EngineMessage",
        "The server had lost the partial upload; it started again from the beginning.",
    ),
    QT_TRANSLATE_NOOP(
        "EngineMessage",
        "The partial upload had expired at the server; it started again from the beginning.",
    ),
    QT_TRANSLATE_NOOP(
        "EngineMessage",
        "The connection dropped just as the server was joining the parts of the file, and this "
        "computer could not learn what became of it; check the feed before adding the file again.",
    ),
    QT_TRANSLATE_NOOP("EngineMessage", "The server received %1 but could not publish it: %2"),
    QT_TRANSLATE_NOOP("EngineMessage", "The file is %1, larger than the %2 the server accepts."),
    QT_TRANSLATE_NOOP("EngineMessage", "The server does not accept a file this large (%1)."),
    QT_TRANSLATE_NOOP(
        "EngineMessage",
        "The server does not accept the item's texts: the script, shot list and restrictions "
        "are too long together. Shorten them and upload the file again.",
    ),
    QT_TRANSLATE_NOOP("EngineMessage", "The server refused the upload for this account: %1"),
    QT_TRANSLATE_NOOP("EngineMessage", "The server refused the upload: %1"),
    QT_TRANSLATE_NOOP(
        "EngineMessage",
        "The server is busy or had a problem (HTTP %1); the upload will go on later.",
    ),
    QT_TRANSLATE_NOOP(
        "EngineMessage",
        "The server's disk is full; the upload will go on once the server has room again.",
    ),
    QT_TRANSLATE_NOOP(
        "EngineMessage", "The server is busy or unavailable (HTTP %1); it will try again."
    ),
    QT_TRANSLATE_NOOP(
        "EngineMessage", "The server refuses even pieces of %1; it cannot take this upload."
    ),
    QT_TRANSLATE_NOOP(
        "EngineMessage",
        "The server's security certificate was refused (is the computer's date right, or is a "
        "network login page in the way? A network with its own certificate authority needs its CA "
        "bundle in the server's profile).",
    ),
    QT_TRANSLATE_NOOP(
        "EngineMessage",
        "The server's security certificate could not be checked (is the computer's date right, or "
        "is a network login page in the way?); the transfer will be tried again.",
    ),
    QT_TRANSLATE_NOOP(
        "EngineMessage",
        "The server's security certificate could not be checked (is the computer's date right, or "
        "is a network login page in the way?); the transfer has stopped; you can try it again "
        "from the list.",
    ),
    QT_TRANSLATE_NOOP(
        "EngineMessage", "The server did not answer in time; the transfer will be tried again."
    ),
    QT_TRANSLATE_NOOP(
        "EngineMessage",
        "The server did not answer in time; the transfer has stopped; you can try it again from "
        "the list.",
    ),
    QT_TRANSLATE_NOOP(
        "EngineMessage", "The connection to the server was lost; the transfer will be tried again."
    ),
    QT_TRANSLATE_NOOP(
        "EngineMessage",
        "The connection to the server was lost; the transfer has stopped; you can try it again "
        "from the list.",
    ),
    QT_TRANSLATE_NOOP(
        "EngineMessage", "The server answered with an error (%1); the transfer will be tried again."
    ),
    QT_TRANSLATE_NOOP(
        "EngineMessage",
        "The server answered with an error (%1); the transfer has stopped; you can try it again "
        "from the list.",
    ),
)

# The hub client's errors (core/hub.py), the sync's reasons for being offline or signed out
# (core/sync/feed.py): the status bar's tooltip. Said of the hub only, never of another server.
_HUB_MARKED = (
    # the hub's answers that do not read (hub_types: the noun is the part that did not)
    QT_TRANSLATE_NOOP("EngineMessage", "The hub sent a malformed item."),
    QT_TRANSLATE_NOOP("EngineMessage", "The hub sent a malformed item (field %1)."),
    QT_TRANSLATE_NOOP("EngineMessage", "The hub sent a malformed member."),
    QT_TRANSLATE_NOOP("EngineMessage", "The hub sent a malformed member (field %1)."),
    QT_TRANSLATE_NOOP("EngineMessage", "The hub sent a malformed rendition."),
    QT_TRANSLATE_NOOP("EngineMessage", "The hub sent a malformed rendition (field %1)."),
    QT_TRANSLATE_NOOP("EngineMessage", "The hub sent a malformed feed page."),
    QT_TRANSLATE_NOOP("EngineMessage", "The hub sent a malformed feed page (field %1)."),
    QT_TRANSLATE_NOOP("EngineMessage", "The hub sent a malformed history page."),
    QT_TRANSLATE_NOOP("EngineMessage", "The hub sent a malformed history page (field %1)."),
    QT_TRANSLATE_NOOP("EngineMessage", "The hub sent a malformed history event."),
    QT_TRANSLATE_NOOP("EngineMessage", "The hub sent a malformed history event (field %1)."),
    QT_TRANSLATE_NOOP("EngineMessage", "The hub sent a malformed sign-in answer."),
    QT_TRANSLATE_NOOP("EngineMessage", "The hub sent a malformed sign-in answer (field %1)."),
    QT_TRANSLATE_NOOP("EngineMessage", "The hub sent a malformed %1."),
    QT_TRANSLATE_NOOP("EngineMessage", "The hub sent a malformed %1 (field %2)."),
    QT_TRANSLATE_NOOP("EngineMessage", "Not in contact with the hub yet."),
    QT_TRANSLATE_NOOP("EngineMessage", "Not signed in to this hub; sign in first."),
    QT_TRANSLATE_NOOP(
        "EngineMessage", "%1 is not a hub address; it looks like https://hub.example.org"
    ),
    QT_TRANSLATE_NOOP(
        "EngineMessage",
        "%1 is plain HTTP: passwords and footage would cross the network unencrypted. Use the "
        "hub's https:// address, or allow plain HTTP for this hub in its profile if your "
        "administrator says so.",
    ),
    QT_TRANSLATE_NOOP(
        "EngineMessage",
        "The hub's certificate at %1 could not be verified (%2). If your network uses its own "
        "certificate authority, set its CA bundle in the hub's profile.",
    ),
    QT_TRANSLATE_NOOP(
        "EngineMessage",
        "The server at %1 did not answer in TLS (https): is its port one for plain http, or is "
        "a network login page in the way? Check the hub address.",
    ),
    QT_TRANSLATE_NOOP(
        "EngineMessage",
        "The secure connection to the hub at %1 failed; check the network and the address.",
    ),
    QT_TRANSLATE_NOOP(
        "EngineMessage",
        "The security certificate of the network's proxy (%1) could not be verified, so the "
        "hub at %2 was not reached. If your network uses its own certificate authority, add it "
        "to the system's certificate store, or set a CA bundle in the hub's profile that holds "
        "it and the hub's authority.",
    ),
    QT_TRANSLATE_NOOP(
        "EngineMessage",
        "The security certificate of the network's proxy could not be verified, so the hub at "
        "%1 was not reached. If your network uses its own certificate authority, add it to the "
        "system's certificate store, or set a CA bundle in the hub's profile that holds it and "
        "the hub's authority.",
    ),
    QT_TRANSLATE_NOOP(
        "EngineMessage",
        "The network's proxy (%1) wants a user name and password (HTTP 407) to reach the hub at "
        "%2. Give them with the profile's proxy (in the app's settings, or alu login --proxy "
        "http://user:password@proxy:3128; kept in the keyring) or in the system's proxy "
        "setting, or ask the network's administrator to let this computer through without one.",
    ),
    QT_TRANSLATE_NOOP(
        "EngineMessage",
        "The network's proxy wants a user name and password (HTTP 407) to reach the hub at %1. "
        "Give them with the profile's proxy (in the app's settings, or alu login --proxy "
        "http://user:password@proxy:3128; kept in the keyring) or in the system's proxy "
        "setting, or ask the network's administrator to let this computer through without one.",
    ),
    QT_TRANSLATE_NOOP(
        "EngineMessage",
        "The network's proxy (%1) did not accept the user name and password given for it "
        "(HTTP 407) to reach the hub at %2. "
        "Check them where they were given (the profile's proxy, in the app's settings or with "
        "alu login --proxy, or the system's proxy setting such as HTTPS_PROXY), or ask the "
        "network's administrator.",
    ),
    QT_TRANSLATE_NOOP(
        "EngineMessage",
        "The network's proxy did not accept the user name and password given for it (HTTP "
        "407) to reach the hub at %1. "
        "Check them where they were given (the profile's proxy, in the app's settings or with "
        "alu login --proxy, or the system's proxy setting such as HTTPS_PROXY), or ask the "
        "network's administrator.",
    ),
    QT_TRANSLATE_NOOP(
        "EngineMessage",
        "The network's proxy (%1) refused the connection to %2 (HTTP %3); check the proxy "
        "settings, or ask the network's administrator to let this computer reach the hub.",
    ),
    QT_TRANSLATE_NOOP(
        "EngineMessage",
        "The network's proxy refused the connection to %1 (HTTP %2); check the proxy settings, "
        "or ask the network's administrator to let this computer reach the hub.",
    ),
    QT_TRANSLATE_NOOP(
        "EngineMessage",
        "The network's proxy (%1) could not reach the hub at %2 (HTTP %3); trying again later.",
    ),
    QT_TRANSLATE_NOOP(
        "EngineMessage",
        "The network's proxy could not reach the hub at %1 (HTTP %2); trying again later.",
    ),
    QT_TRANSLATE_NOOP(
        "EngineMessage",
        "The network's proxy (%1) refused to pass the request to the hub at %2 (HTTP %3); check "
        "the proxy settings, or ask the network's administrator to let this computer reach it.",
    ),
    QT_TRANSLATE_NOOP(
        "EngineMessage",
        "The network's proxy refused to pass the request to the hub at %1 (HTTP %2); check the "
        "proxy settings, or ask the network's administrator to let this computer reach it.",
    ),
    QT_TRANSLATE_NOOP("EngineMessage", "The hub at %1 did not answer in time."),
    QT_TRANSLATE_NOOP(
        "EngineMessage",
        "The hub at %1 did not answer in time. Check the workstation's connection (or the "
        "proxy), then try again.",
    ),
    QT_TRANSLATE_NOOP("EngineMessage", "The hub at %1 stopped answering; reconnecting."),
    QT_TRANSLATE_NOOP(
        "EngineMessage",
        "The server at %1 answered with something that is not HTTP a hub would send; check the "
        "hub address, or whether a proxy is in the way.",
    ),
    QT_TRANSLATE_NOOP(
        "EngineMessage", "The hub at %1 cannot be reached; check the network and the address."
    ),
    QT_TRANSLATE_NOOP("EngineMessage", "The hub at %1 cannot be reached (%2)."),
    QT_TRANSLATE_NOOP(
        "EngineMessage", "The hub at %1 answered with a redirect to %2; check the hub address."
    ),
    QT_TRANSLATE_NOOP(
        "EngineMessage",
        "The hub at %1 answered with a redirect to elsewhere; check the hub address.",
    ),
    QT_TRANSLATE_NOOP("EngineMessage", "The hub refused the user name or password."),
    QT_TRANSLATE_NOOP("EngineMessage", "Your session with the hub has ended; sign in again."),
    QT_TRANSLATE_NOOP("EngineMessage", "The hub does not allow this account to do that."),
    QT_TRANSLATE_NOOP("EngineMessage", "The hub does not have that."),
    QT_TRANSLATE_NOOP(
        "EngineMessage",
        "Too many failed sign-ins for this user or this network; try again in %1 minute(s).",
    ),
    QT_TRANSLATE_NOOP(
        "EngineMessage",
        "Too many failed sign-ins for this user or this network; try again later.",
    ),
    QT_TRANSLATE_NOOP(
        "EngineMessage", "The hub at %1 is busy or failing (HTTP %2); trying again later."
    ),
    QT_TRANSLATE_NOOP(
        "EngineMessage", "The hub at %1 is busy or failing (HTTP %2); try again later."
    ),
    QT_TRANSLATE_NOOP(
        "EngineMessage",
        "The server at %1 does not take this request (HTTP 501), as a hub would; check the hub "
        "address.",
    ),
    QT_TRANSLATE_NOOP("EngineMessage", "The hub refused the request (HTTP %1)."),
    QT_TRANSLATE_NOOP(
        "EngineMessage", "The hub's live feed answered with something else than events."
    ),
    QT_TRANSLATE_NOOP("EngineMessage", "The hub's live feed sent an oversized event."),
    QT_TRANSLATE_NOOP("EngineMessage", "The hub's live feed was cut off."),
    QT_TRANSLATE_NOOP("EngineMessage", "The hub answered with something that is not ALU data."),
    QT_TRANSLATE_NOOP(
        "EngineMessage",
        "The hub at %1 answered with %2, not ALU data; a proxy or a wrong address may be in the "
        "way.",
    ),
    QT_TRANSLATE_NOOP(
        "EngineMessage",
        "The hub at %1 answered with no content type, not ALU data; a proxy or a wrong address "
        "may be in the way.",
    ),
    QT_TRANSLATE_NOOP("EngineMessage", "The hub at %1 sent an answer too large to be ALU data."),
    QT_TRANSLATE_NOOP("EngineMessage", "The connection to the hub at %1 broke during an answer."),
)

# The library's refusals (core/library/files.py): why Library → Delete left a file in place.
_LIBRARY_MARKED = (
    QT_TRANSLATE_NOOP("EngineMessage", "The library has no %1 file of item %2."),
    QT_TRANSLATE_NOOP(
        "EngineMessage",
        "%1 was left in place: its record in the library is damaged; download it again, or "
        "delete the file yourself.",
    ),
    QT_TRANSLATE_NOOP("EngineMessage", "%1 was not removed: it cannot be reached (%2)."),
    QT_TRANSLATE_NOOP("EngineMessage", "%1 was not removed: it could not be deleted (%2)."),
    QT_TRANSLATE_NOOP(
        "EngineMessage",
        "%1 was left in place: its size changed from %2 to %3 bytes since it was downloaded, "
        "so it is not the file ALU Desk verified.",
    ),
    QT_TRANSLATE_NOOP(
        "EngineMessage",
        "%1 was left in place: something else than the downloaded file is at its place, so it "
        "is not the file ALU Desk verified.",
    ),
    # a file of the recorded size with another modification time (library.files.REWRITTEN)
    QT_TRANSLATE_NOOP(
        "EngineMessage",
        "%1 was left in place: it was replaced or modified since it was downloaded (by another "
        "workstation sharing the folder, or by another program), so it is not the file ALU "
        "Desk verified.",
    ),
)

# What a hot folder records of a file (core/watch/messages.py): the Problem column of Settings →
# Hot folders, and the notes of files it sent. The file and sidecar names are details.
_WATCH_MARKED = (
    QT_TRANSLATE_NOOP("EngineMessage", "%1 could not be taken: %2."),
    QT_TRANSLATE_NOOP("EngineMessage", "%1 cannot be read: %2."),
    # %1: the probe's sentence, which names the file ("clip.mp4 is empty (0 bytes).")
    QT_TRANSLATE_NOOP("EngineMessage", "%1 The hub would refuse it; it was not sent."),
    QT_TRANSLATE_NOOP(
        "EngineMessage", "Not uploaded again: the same content was already sent as %1."
    ),
    QT_TRANSLATE_NOOP("EngineMessage", "It could not be queued: %1"),
    QT_TRANSLATE_NOOP(
        "EngineMessage",
        "%1 changed after its upload started (was it still being copied?): the item published "
        "from it may be incomplete. The file as it is now is sent as a new upload.",
    ),
    QT_TRANSLATE_NOOP("EngineMessage", "The sidecar %1 cannot be read: %2."),
    QT_TRANSLATE_NOOP("EngineMessage", "The sidecar %1 is not UTF-8 text."),
    QT_TRANSLATE_NOOP(
        "EngineMessage",
        "The sidecar %1 is not valid JSON (%2). Fix it and %3 is taken again.",
    ),
    QT_TRANSLATE_NOOP("EngineMessage", 'The sidecar %1 must be a JSON object like {"title": "…"}.'),
    QT_TRANSLATE_NOOP("EngineMessage", "In the sidecar %1, %2 must be text."),
    # %2: the field's problem (below), %3: the sidecar's name
    QT_TRANSLATE_NOOP("EngineMessage", "%1: %2 (from the sidecar %3)"),
    QT_TRANSLATE_NOOP("EngineMessage", "%1: %2 (from the hot folder's defaults)"),
    QT_TRANSLATE_NOOP("EngineMessage", "%1: %2 (from the file name)"),
    QT_TRANSLATE_NOOP(
        "EngineMessage",
        "Sent without %1: it arrived after %2 was taken, and its fields were not used (the "
        "item went out with the folder's defaults and the file name); it is in the sent "
        'folder marked "not used". Write the sidecar first, or give the folder a longer '
        "settle time.",
    ),
    QT_TRANSLATE_NOOP(
        "EngineMessage",
        "%1 changed after it was moved to the sent folder (it was still being copied): the "
        "item published from it may be incomplete. It was put back in the hot folder, and is "
        "sent as a new upload once it has been still for the settle time.",
    ),
    QT_TRANSLATE_NOOP(
        "EngineMessage",
        "%1 changed after it was moved to the sent folder (it was still being copied): the "
        "item published from it may be incomplete. It was put back in the hot folder, and is "
        "sent as a new upload once it has been still for the settle time. Its sidecar %2 "
        "could not be moved back with it: the file waits for it, which is tried again at "
        "every scan.",
    ),
    # %2: the host name of another workstation watching the same (shared) folder
    QT_TRANSLATE_NOOP(
        "EngineMessage",
        "%1 is being sent by %2, another workstation watching this folder; it is not sent "
        "from here.",
    ),
    QT_TRANSLATE_NOOP(
        "EngineMessage",
        "%1 was taken over by %2, another workstation watching this folder, while this one "
        "was asleep or off the network: it is sent from there, and its upload here was "
        "canceled. Nothing needs to be done.",
    ),
    QT_TRANSLATE_NOOP("EngineMessage", "The hub refused it: %1"),
    QT_TRANSLATE_NOOP("EngineMessage", "The hub refused it: no reason given"),
    QT_TRANSLATE_NOOP("EngineMessage", "The upload was canceled."),
    QT_TRANSLATE_NOOP("EngineMessage", "The upload failed."),
    QT_TRANSLATE_NOOP("EngineMessage", "The upload was removed from the queue."),
    # a field refused (core/uploads.py's FieldError), in a sidecar or the folder's defaults:
    # %1 of "The %1 is too long" is the field's key as a sidecar has it (title, shotlist, …)
    QT_TRANSLATE_NOOP("EngineMessage", "The %1 is too long (%2 characters; at most %3)."),
    QT_TRANSLATE_NOOP("EngineMessage", "The %1 is too long (at most %2 characters)."),
    QT_TRANSLATE_NOOP("EngineMessage", "A title is needed."),
    QT_TRANSLATE_NOOP("EngineMessage", "The language must be English, French or Arabic."),
    QT_TRANSLATE_NOOP("EngineMessage", "The priority must be flash, urgent or routine."),
    QT_TRANSLATE_NOOP("EngineMessage", "The country is a two-letter code, like KE or SN."),
    QT_TRANSLATE_NOOP(
        "EngineMessage",
        "The recording date is not a date (use 2026-11-22 or 2026-11-22T14:30).",
    ),
    QT_TRANSLATE_NOOP(
        "EngineMessage",
        "The recording date is in the future; check it (and the camera's clock).",
    ),
    # ... on the hub's clock, this computer's being off from it: %1 is the hub's time (UTC),
    # %2 how far this clock is off ("2 days")
    QT_TRANSLATE_NOOP(
        "EngineMessage",
        "The recording date is in the future (hub time %1 UTC); this computer's clock is %2 "
        "ahead of the hub's: check the date, and set the clock right in the system's date and "
        "time settings.",
    ),
    QT_TRANSLATE_NOOP(
        "EngineMessage",
        "The recording date is in the future (hub time %1 UTC); this computer's clock is %2 "
        "behind the hub's: check the date, and set the clock right in the system's date and "
        "time settings.",
    ),
    QT_TRANSLATE_NOOP("EngineMessage", "The recording date is before 1900."),
    QT_TRANSLATE_NOOP(
        "EngineMessage",
        "The script, shot list and restrictions are too long together for the hub (%1 KiB "
        "once encoded; at most %2 KiB): shorten this text.",
    ),
    # why a hot folder cannot be watched now (``watch_folders.problem``): Settings → Hot
    # folders, under the folders; %1 is the folder's path
    QT_TRANSLATE_NOOP(
        "EngineMessage",
        "The hot folder %1 is not there (a drive unplugged, a share not mounted?): its files "
        "are taken once it is back.",
    ),
    QT_TRANSLATE_NOOP("EngineMessage", "The hot folder %1 cannot be read: %2."),
    QT_TRANSLATE_NOOP(
        "EngineMessage",
        "The hot folder %1 is also where downloads are saved: every clip downloaded there "
        "would be published again. Nothing is taken from it; choose another folder for the "
        "one or the other.",
    ),
    QT_TRANSLATE_NOOP(
        "EngineMessage",
        "Files sent cannot be moved to the sent folder %1: %2. They stay in the hot folder, "
        "and are moved once it can be written.",
    ),
    # a link (symbolic link, junction) or a special file in a hot folder: %1 its name, %2 the
    # hot folder
    QT_TRANSLATE_NOOP(
        "EngineMessage",
        "%1 in the hot folder %2 is a link (a shortcut to a file elsewhere) or a special file: "
        "links are not followed, so it is not sent. Put the file itself in the folder.",
    ),
    # a file whose name is no text (core/safe_names.py): %1 its name, %2 its folder
    QT_TRANSLATE_NOOP(
        "EngineMessage",
        "The name of “%1” in %2 is not valid text: it holds bytes no character set here can "
        "read. Rename the file, then add it again.",
    ),
)

_WATCH_FOLDER_MARKED = (  # why a hot folder's settings were refused (``WatchError``)
    QT_TRANSLATE_NOOP("EngineMessage", "%1 is not a folder, or cannot be reached."),
    QT_TRANSLATE_NOOP("EngineMessage", "%1 is already a hot folder."),
    QT_TRANSLATE_NOOP("EngineMessage", "%1 is already a hot folder (for the hub profile %2)."),
    QT_TRANSLATE_NOOP("EngineMessage", "There is no hot folder #%1."),
    QT_TRANSLATE_NOOP("EngineMessage", "In the folder's defaults: %1"),
    QT_TRANSLATE_NOOP("EngineMessage", "The sent folder cannot be the hot folder itself."),
    QT_TRANSLATE_NOOP(
        "EngineMessage", "The sent folder needs a name (like 'sent') or a full path."
    ),
    QT_TRANSLATE_NOOP("EngineMessage", "The settle time is between 0 seconds and a day."),
)

#: QT_TRANSLATE_NOOP hands its text back as it is (typed ``object`` by PySide6)
TEMPLATES: tuple[str, ...] = tuple(str(text) for text in _MARKED)
#: why the app is offline or signed out
HUB_TEMPLATES: tuple[str, ...] = tuple(str(text) for text in _HUB_MARKED)
#: why the library left a file in place
LIBRARY_TEMPLATES: tuple[str, ...] = tuple(str(text) for text in _LIBRARY_MARKED)
#: what a hot folder says of a file
WATCH_TEMPLATES: tuple[str, ...] = tuple(str(text) for text in _WATCH_MARKED)
#: why a hot folder's settings were refused
WATCH_FOLDER_TEMPLATES: tuple[str, ...] = tuple(str(text) for text in _WATCH_FOLDER_MARKED)

#: details that are counts the core writes as plain integers (``1234567``): shown in the
#: user's digits and grouping (``1 234 567``, ``١٬٢٣٤٬٥٦٧``)
_COUNTS = {
    "The server offers a shorter file than expected (%1 bytes instead of %2); trying again "
    "later.": frozenset({"1", "2"}),
    "%1 was left in place: its size changed from %2 to %3 bytes since it was downloaded, "
    "so it is not the file ALU Desk verified.": frozenset({"2", "3"}),
    "The %1 is too long (%2 characters; at most %3).": frozenset({"2", "3"}),
    "The %1 is too long (at most %2 characters).": frozenset({"2"}),
    "The script, shot list and restrictions are too long together for the hub (%1 KiB once "
    "encoded; at most %2 KiB): shorten this text.": frozenset({"1", "2"}),
}

#: details that are sentences of their own, shown in the user's language too: a hot folder's
#: problem made of the probe's sentence, a field's, or whatever an error said (a hub's refusal
#: that has its template here)
_NESTED = {
    "%1 The hub would refuse it; it was not sent.": frozenset({"1"}),
    "%1: %2 (from the sidecar %3)": frozenset({"2"}),
    "%1: %2 (from the hot folder's defaults)": frozenset({"2"}),
    "%1: %2 (from the file name)": frozenset({"2"}),
    "%1 could not be taken: %2.": frozenset({"2"}),
    "It could not be queued: %1": frozenset({"1"}),
    "The hub refused it: %1": frozenset({"1"}),
    "In the folder's defaults: %1": frozenset({"1"}),
}

_PLACEHOLDER = re.compile(r"%(\d)")


def _specificity(template: str) -> tuple[int, int]:
    """Fewer details first, then more words of its own: of "… to reach %2. …" and "… to reach
    the hub at %2. …", the second (its detail a URL, not "the hub at" and a URL in English)."""
    return len(_PLACEHOLDER.findall(template)), -len(_PLACEHOLDER.sub("", template))


@cache
def _patterns() -> tuple[tuple[re.Pattern[str], str], ...]:
    """Each template as a pattern whose groups are its details, the most specific first (a
    template with fewer details wins over one whose detail could swallow its words)."""
    out = []
    every = TEMPLATES + HUB_TEMPLATES + LIBRARY_TEMPLATES + WATCH_TEMPLATES + WATCH_FOLDER_TEMPLATES
    for template in sorted(every, key=_specificity):
        parts = _PLACEHOLDER.split(template)
        regex = "".join(
            re.escape(part) if i % 2 == 0 else f"(?P<p{part}>.+?)" for i, part in enumerate(parts)
        )
        out.append((re.compile(f"^{regex}$", re.DOTALL), template))
    return tuple(out)


def template_of(message: str) -> tuple[str, dict[str, str]] | None:
    """The template ``message`` was made from and its details by number, or None.

    A detail that is a sentence of its own (``_NESTED``) after a file name can be found at
    more than one place: "Interview: minister.mp4: A title is needed. (from the file name)"
    read "Interview" as the name and the rest as an unknown sentence. The split whose sentence
    is known wins."""
    for pattern, template in _patterns():
        found = pattern.match(message)
        if found is None:
            continue
        details = {name[1:]: value for name, value in found.groupdict().items()}
        nested = _NESTED.get(template)
        if nested and not all(_known_sentence(details[n]) for n in nested if n in details):
            for other in _other_splits(template, message):
                if all(_known_sentence(other[n]) for n in nested if n in other):
                    return template, other
        return template, details
    return None


def _known_sentence(text: str) -> bool:
    return media_text.match(text) is not None or template_of(text) is not None


def _other_splits(template: str, message: str) -> Iterator[dict[str, str]]:
    """``message``'s other readings by ``template``: its first detail ending at each later
    place where the words after it are found (a file name with ": " in it)."""
    parts = _PLACEHOLDER.split(template)
    if len(parts) < 4 or (parts[0] and not message.startswith(parts[0])):
        return
    head, first, after = parts[0], parts[1], parts[2]
    rest = "".join(
        re.escape(part) if i % 2 == 0 else f"(?P<p{part}>.+?)" for i, part in enumerate(parts[2:])
    )
    tail = re.compile(rest, re.DOTALL)
    at = message.find(after, len(head) + 1)
    while at != -1:
        found = tail.fullmatch(message, at)
        if found is not None:
            details = {name[1:]: value for name, value in found.groupdict().items()}
            yield {first: message[len(head) : at], **details}
        at = message.find(after, at + 1)


def shown(message: str) -> str:
    """``message`` (the engine's, or a sync status's reason) in the user's language where a
    translation is installed; else as it is."""
    if not message:
        return message
    known = template_of(message)
    if known is None:
        return message
    template, details = known
    translated = QCoreApplication.translate(CONTEXT, template)
    counts = _COUNTS.get(template, frozenset())
    nested = _NESTED.get(template, frozenset())

    def detail(found: re.Match[str]) -> str:
        number = found.group(1)
        if number not in details:
            return found.group(0)
        value = details[number]
        if number in counts and value.isascii() and value.isdigit():
            return count_text(int(value))
        if number in nested:
            return _sentence(value)
        # a detail may be the system's words for a file error ("Permission denied")
        text = os_text(value)
        if (
            rtl
            and _has_letters(text)
            and not _isolated_at(translated, found.start(), found.end())
            and not (text[:1] in "\u2066\u2067\u2068" and text[-1:] == PDI)  # (shown before)
        ):
            # a file or host name: an Arabic one opening an English sentence turned the whole
            # sentence right to left ("…” is being sent by HOST" read from the right), and a
            # Latin one with brackets inside an Arabic sentence moved them
            return isolated(text)
        return text

    rtl = _has_rtl(translated) or any(_has_rtl(v) for v in details.values())
    return _PLACEHOLDER.sub(detail, translated)


def _has_rtl(text: str) -> bool:
    """Whether ``text`` has a letter written right to left (Arabic, Hebrew, Syriac…)."""
    return any(unicodedata.bidirectional(ch) in ("R", "AL") for ch in text)


def _has_letters(text: str) -> bool:
    """Whether ``text`` has a letter of a direction (not only digits, signs and spaces, which
    take the sentence's: "HTTP 418" needs no isolate)."""
    return any(unicodedata.bidirectional(ch) in ("L", "R", "AL") for ch in text)


def _isolated_at(text: str, start: int, end: int) -> bool:
    """Whether ``text[start:end]`` (a placeholder) sits in an isolate the translation made."""
    return start > 0 and text[start - 1] in "\u2066\u2067\u2068" and text[end : end + 1] == PDI


def _sentence(text: str) -> str:
    """A detail that is a sentence of its own, in the user's language: the probe's (which
    names the file), one with a template here, or the system's words for a file error."""
    if media_text.match(text) is not None:
        return media_text.media_problem(text)
    return shown(text) if template_of(text) is not None else os_text(text)


def error_shown(error: BaseException) -> str:
    """An exception from the core for people: a file error by the system's reason, anything
    else as ``shown`` (a hub error, a refusal) — in the user's language either way."""
    if isinstance(error, OSError) and getattr(error, "strerror", None):
        return os_error_text(error)
    return shown(str(error))
