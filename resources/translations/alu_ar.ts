<?xml version="1.0" encoding="utf-8"?>
<!DOCTYPE TS>
<TS version="2.1" language="ar" sourcelanguage="en">
<context>
    <name>BandwidthLimitBox</name>
    <message>
        <source>Bandwidth limit</source>
        <translation>حدّ السرعة</translation>
    </message>
    <message>
        <source>The weekly schedule sets the limit at this hour; change it in Settings.</source>
        <translation>الجدول الأسبوعي يحدد الحد في هذه الساعة؛ غيّره من الإعدادات.</translation>
    </message>
    <message>
        <source>Highest speed for downloads and for uploads, each</source>
        <translation>أقصى سرعة للتنزيل وللرفع، لكلٍّ منهما</translation>
    </message>
    <message>
        <source>↓ %1  ↑ %2</source>
        <translation>↓ %1  ↑ %2</translation>
    </message>
    <message>
        <source>Custom…</source>
        <translation>مخصّص…</translation>
    </message>
    <message>
        <source>Unlimited</source>
        <translation>بلا حدّ</translation>
    </message>
    <message>
        <source>Highest speed, e.g. 3M (megabits per second) or 400 KB/s:</source>
        <translation>أقصى سرعة، مثلًا ⁦3M⁩ (ميغابت في الثانية) أو ⁦400 KB/s⁩:</translation>
    </message>
    <message>
        <source>“{text}” is not a speed; write e.g. {megabits} or {kilobytes}.</source>
        <translation>«{text}» ليست سرعة صالحة؛ اكتب مثلًا {megabits} أو {kilobytes}.</translation>
    </message>
</context>
<context>
    <name>ClockWarning</name>
    <message>
        <source>⚠ Clock %1 ahead</source>
        <translation>⚠ الساعة متقدمة (%1)</translation>
    </message>
    <message>
        <source>This computer&apos;s clock is %1 ahead of the hub&apos;s: set it right in the system&apos;s date and time settings (turn on automatic date and time).</source>
        <translation>ساعة هذا الحاسوب متقدمة على ساعة المركز (الفرق %1): اضبطها في إعدادات التاريخ والوقت في النظام (فعّل الضبط التلقائي للتاريخ والوقت).</translation>
    </message>
    <message>
        <source>⚠ Clock %1 behind</source>
        <translation>⚠ الساعة متأخرة (%1)</translation>
    </message>
    <message>
        <source>This computer&apos;s clock is %1 behind the hub&apos;s: set it right in the system&apos;s date and time settings (turn on automatic date and time).</source>
        <translation>ساعة هذا الحاسوب متأخرة عن ساعة المركز (الفرق %1): اضبطها في إعدادات التاريخ والوقت في النظام (فعّل الضبط التلقائي للتاريخ والوقت).</translation>
    </message>
    <message>
        <source>Meanwhile the Feed&apos;s ages and the History&apos;s times go by the hub&apos;s clock.</source>
        <translation>إلى ذلك الحين، تُحسب أعمار المواد في الموجز وأوقات السجل بساعة المركز.</translation>
    </message>
</context>
<context>
    <name>ClockWords</name>
    <message numerus="yes">
        <source>%Ln minutes</source>
        <translation>
            <numerusform>%Ln دقيقة</numerusform>
            <numerusform>دقيقة واحدة</numerusform>
            <numerusform>دقيقتان</numerusform>
            <numerusform>%Ln دقائق</numerusform>
            <numerusform>%Ln دقيقة</numerusform>
            <numerusform>%Ln دقيقة</numerusform>
        </translation>
    </message>
    <message numerus="yes">
        <source>%Ln hours</source>
        <translation>
            <numerusform>%Ln ساعة</numerusform>
            <numerusform>ساعة واحدة</numerusform>
            <numerusform>ساعتان</numerusform>
            <numerusform>%Ln ساعات</numerusform>
            <numerusform>%Ln ساعة</numerusform>
            <numerusform>%Ln ساعة</numerusform>
        </translation>
    </message>
    <message numerus="yes">
        <source>%Ln days</source>
        <translation>
            <numerusform>%Ln يوم</numerusform>
            <numerusform>يوم واحد</numerusform>
            <numerusform>يومان</numerusform>
            <numerusform>%Ln أيام</numerusform>
            <numerusform>%Ln يومًا</numerusform>
            <numerusform>%Ln يوم</numerusform>
        </translation>
    </message>
</context>
<context>
    <name>Demo</name>
    <message>
        <source>ALU Desk demo</source>
        <translation>العرض التجريبي لـ ALU Desk</translation>
    </message>
    <message>
        <source>Preparing the demo feed: making the video clips (only the first time)…</source>
        <translation>جارٍ إعداد الموجز التجريبي: إنشاء المقاطع المصوّرة (في المرة الأولى فقط)…</translation>
    </message>
</context>
<context>
    <name>EngineMessage</name>
    <message>
        <source>The connection stalled; resuming.</source>
        <translation>توقف الاتصال؛ جارٍ الاستئناف.</translation>
    </message>
    <message>
        <source>The connection to the server was cut; resuming.</source>
        <translation>انقطع الاتصال بالخادم؛ جارٍ الاستئناف.</translation>
    </message>
    <message>
        <source>The server closed the connection before the end of the file; resuming.</source>
        <translation>أغلق الخادم الاتصال قبل نهاية الملف؛ جارٍ الاستئناف.</translation>
    </message>
    <message>
        <source>The server could not be reached; trying again.</source>
        <translation>تعذّر الوصول إلى الخادم؛ ستُعاد المحاولة.</translation>
    </message>
    <message>
        <source>The server did not answer in time; trying again.</source>
        <translation>لم يُجب الخادم في الوقت المحدد؛ ستُعاد المحاولة.</translation>
    </message>
    <message>
        <source>The downloaded file was damaged (checksum mismatch); downloading it again.</source>
        <translation>وصل الملف المُنزَّل تالفًا (مجموع التحقق غير مطابق)؛ جارٍ تنزيله من جديد.</translation>
    </message>
    <message>
        <source>The server&apos;s file is not the one expected: it arrived twice with the same different checksum, so it is not damage on the way. Nothing was kept; tell the agency.</source>
        <translation>ملف الخادم ليس الملف المنتظر: وصل مرتين بمجموع التحقق المختلف نفسه، فالخلل ليس تلفًا أثناء النقل. لم يُحتفظ بشيء؛ أبلغ الوكالة.</translation>
    </message>
    <message>
        <source>The file changed on the server; downloading it again from the start.</source>
        <translation>تغيّر الملف على الخادم؛ جارٍ تنزيله من البداية.</translation>
    </message>
    <message>
        <source>The server cannot resume downloads; downloading the file again from the start.</source>
        <translation>لا يستطيع الخادم استئناف التنزيل؛ جارٍ تنزيل الملف من البداية.</translation>
    </message>
    <message>
        <source>The server compressed the file; asking again.</source>
        <translation>ضغط الخادم الملف؛ جارٍ طلبه من جديد.</translation>
    </message>
    <message>
        <source>The server keeps sending the file compressed, so it cannot be checked or resumed. Tell the agency.</source>
        <translation>يواصل الخادم إرسال الملف مضغوطًا، فلا يمكن التحقق منه ولا استئنافه. أبلغ الوكالة.</translation>
    </message>
    <message>
        <source>The server sent more data than the file&apos;s size.</source>
        <translation>أرسل الخادم بيانات أكثر من حجم الملف.</translation>
    </message>
    <message>
        <source>The server sent the wrong part of the file; asking again.</source>
        <translation>أرسل الخادم جزءًا خاطئًا من الملف؛ جارٍ طلبه من جديد.</translation>
    </message>
    <message>
        <source>The disk is full; the download will continue when space is freed.</source>
        <translation>القرص ممتلئ؛ سيستمر التنزيل عند تحرير مساحة.</translation>
    </message>
    <message>
        <source>The download address is not valid.</source>
        <translation>عنوان التنزيل غير صالح.</translation>
    </message>
    <message>
        <source>The file kept changing on the server while it was downloading; trying again later.</source>
        <translation>ظل الملف يتغيّر على الخادم أثناء تنزيله؛ ستُعاد المحاولة لاحقًا.</translation>
    </message>
    <message>
        <source>The secure connection to the server failed; trying again.</source>
        <translation>فشل الاتصال الآمن بالخادم؛ ستُعاد المحاولة.</translation>
    </message>
    <message>
        <source>The server redirected the download too many times.</source>
        <translation>أعاد الخادم توجيه التنزيل مرات كثيرة جدًا.</translation>
    </message>
    <message>
        <source>The server sent the download elsewhere without saying where.</source>
        <translation>أحال الخادم التنزيل إلى مكان آخر دون أن يحدده.</translation>
    </message>
    <message>
        <source>The storage the server sent the download to refused its link (expired?); asking the server for a new one.</source>
        <translation>رفض التخزين الذي أحال إليه الخادمُ التنزيلَ رابطَه (منتهي الصلاحية؟)؛ جارٍ طلب رابط جديد من الخادم.</translation>
    </message>
    <message>
        <source>The server refused access (HTTP %1). Sign in again, or ask the agency whether your newsroom may download this item.</source>
        <translation>رفض الخادم الوصول (HTTP %1). سجّل الدخول من جديد، أو اسأل الوكالة إن كان يحق لغرفة أخباركم تنزيل هذه المادة.</translation>
    </message>
    <message>
        <source>The server could not send the file just now (HTTP %1); trying again.</source>
        <translation>تعذّر على الخادم إرسال الملف الآن (HTTP %1)؛ ستُعاد المحاولة.</translation>
    </message>
    <message>
        <source>The download folder cannot be written to (%1).</source>
        <translation>لا يمكن الكتابة في مجلد التنزيل (%1).</translation>
    </message>
    <message>
        <source>The file is too large for the download folder&apos;s disk (FAT32 and some USB disks hold files of at most 4 GB); choose a folder on another disk.</source>
        <translation>الملف أكبر من أن يتسع له قرص مجلد التنزيل (أنظمة FAT32 وبعض أقراص USB لا تقبل ملفات أكبر من أربعة غيغابايت)؛ اختر مجلدًا على قرص آخر.</translation>
    </message>
    <message>
        <source>“%1” (%2) is larger than the whole disk that holds its folder (%3 in all): no freeing of space can make room for it; choose a folder on another disk.</source>
        <translation>«%1» (%2) أكبر من القرص الذي يحوي مجلده بأكمله (%3 في المجموع)؛ لن يفيد تحرير أي مساحة؛ اختر مجلدًا على قرص آخر.</translation>
    </message>
    <message>
        <source>The disk is full: “%1” needs %2 more; the download will continue when that much space is freed.</source>
        <translation>القرص ممتلئ: يحتاج «%1» إلى %2 إضافية؛ سيستمر التنزيل عند تحرير هذه المساحة.</translation>
    </message>
    <message>
        <source>The file could not be written to the disk (%1); trying again.</source>
        <translation>تعذّرت كتابة الملف على القرص (%1)؛ ستُعاد المحاولة.</translation>
    </message>
    <message>
        <source>The server offers a shorter file than expected (%1 bytes instead of %2); trying again later.</source>
        <translation>يعرض الخادم ملفًا أقصر من المنتظر (%1 بايت بدل %2)؛ ستُعاد المحاولة لاحقًا.</translation>
    </message>
    <message>
        <source>A file named “%1” appeared there meanwhile; choose another name.</source>
        <translation>ظهر في الأثناء ملف باسم «%1» في هذا المكان؛ اختر اسمًا آخر.</translation>
    </message>
    <message>
        <source>A file named “%1” is already there; choose another name.</source>
        <translation>يوجد ملف باسم «%1» في هذا المكان؛ اختر اسمًا آخر.</translation>
    </message>
    <message>
        <source>A file named “%1” is already there and this download did not make it (another download to the same name, or another program); move it away or choose another name.</source>
        <translation>يوجد ملف باسم «%1» بالفعل ولم ينشئه هذا التنزيل (تنزيل آخر بالاسم نفسه، أو برنامج آخر)؛ انقله إلى مكان آخر أو اختر اسمًا آخر.</translation>
    </message>
    <message>
        <source>The file cannot be saved there (%1); choose another folder or name.</source>
        <translation>لا يمكن حفظ الملف هناك (%1)؛ اختر مجلدًا أو اسمًا آخر.</translation>
    </message>
    <message>
        <source>The server sent the download to another address, which asks for a sign-in; the credentials given are not sent to another server. Use that address directly, with its own credentials.</source>
        <translation>أحال الخادم التنزيل إلى عنوان آخر يطلب تسجيل الدخول؛ لا تُرسَل بيانات الدخول المعطاة إلى خادم آخر. استخدم ذلك العنوان مباشرة ببيانات الدخول الخاصة به.</translation>
    </message>
    <message>
        <source>The hub took none of the piece it was sent.</source>
        <translation>لم يحتفظ المركز بأي شيء من الجزء الذي أُرسل إليه.</translation>
    </message>
    <message>
        <source>The hub could not join the parts yet; it will try again.</source>
        <translation>لم يتمكن المركز بعد من تجميع الأجزاء؛ ستُعاد المحاولة.</translation>
    </message>
    <message>
        <source>This transfer&apos;s record in the library is damaged; cancel it and add the file again.</source>
        <translation>سجل هذا النقل في المكتبة تالف؛ ألغِه وأضف الملف من جديد.</translation>
    </message>
    <message>
        <source>The server asks for a sign-in, and none was sent to the address it gave for the upload; check the address and the credentials given.</source>
        <translation>يطلب الخادم تسجيل الدخول، ولم يُرسَل أي منه إلى العنوان الذي حدده للرفع؛ تحقق من العنوان وبيانات الدخول المعطاة.</translation>
    </message>
    <message>
        <source>Another connection is still writing to this upload at the hub; it will go on later.</source>
        <translation>ما زال اتصال آخر يكتب في هذا الإرسال على المركز؛ سيستمر لاحقًا.</translation>
    </message>
    <message>
        <source>Pieces of the file kept arriving damaged at the hub; it will try again.</source>
        <translation>ظلت أجزاء من الملف تصل تالفة إلى المركز؛ ستُعاد المحاولة.</translation>
    </message>
    <message>
        <source>The connection to the hub dropped.</source>
        <translation>انقطع الاتصال بالمركز.</translation>
    </message>
    <message>
        <source>The link stalled.</source>
        <translation>توقف الرابط.</translation>
    </message>
    <message>
        <source>The hub and this computer disagreed on how much had arrived.</source>
        <translation>اختلف المركز وهذا الحاسوب على مقدار ما وصل.</translation>
    </message>
    <message>
        <source>The hub answered with a redirect, which an upload does not follow; check the hub&apos;s address.</source>
        <translation>ردّ المركز بإعادة توجيه لا يتبعها الإرسال؛ تحقّق من عنوان المركز.</translation>
    </message>
    <message>
        <source>The hub could not be reached; the upload will try again.</source>
        <translation>تعذّر الوصول إلى المركز؛ سيُعاد الإرسال.</translation>
    </message>
    <message>
        <source>The hub did not accept this sign-in; sign in again, then retry.</source>
        <translation>لم يقبل المركز تسجيل الدخول هذا؛ سجّل الدخول من جديد ثم أعد المحاولة.</translation>
    </message>
    <message>
        <source>The hub did not say where the joined file is.</source>
        <translation>لم يذكر المركز أين يوجد الملف المجمَّع.</translation>
    </message>
    <message>
        <source>The hub did not say where to send the file; is it a tus server?</source>
        <translation>لم يذكر المركز إلى أين يُرسَل الملف؛ هل هو خادم tus؟</translation>
    </message>
    <message>
        <source>The hub gave an address for the upload that cannot be used; tell whoever runs it.</source>
        <translation>أعطى المركز عنوانًا للرفع لا يمكن استخدامه؛ أبلغ المسؤول عنه.</translation>
    </message>
    <message>
        <source>The server kept less of the file than it had confirmed; sending the rest.</source>
        <translation>احتفظ الخادم بجزء من الملف أقل مما أكّده؛ جارٍ إرسال الباقي.</translation>
    </message>
    <message>
        <source>The server joined the parts into a file shorter than this one; add the file again.</source>
        <translation>جمع الخادم الأجزاء في ملف أقصر من هذا الملف؛ أضف الملف مرة أخرى.</translation>
    </message>
    <message>
        <source>The hub has no upload service at this address; check the hub&apos;s address.</source>
        <translation>لا توجد لدى المركز خدمة إرسال على هذا العنوان؛ تحقّق من عنوان المركز.</translation>
    </message>
    <message>
        <source>The hub lost the upload again; it will try later.</source>
        <translation>فقد المركز الإرسال مرة أخرى؛ ستُعاد المحاولة لاحقًا.</translation>
    </message>
    <message>
        <source>The hub no longer has this upload.</source>
        <translation>لم يعد هذا الإرسال موجودًا لدى المركز.</translation>
    </message>
    <message>
        <source>The hub&apos;s answer had an unexpected offset.</source>
        <translation>احتوى رد المركز على موضع غير متوقع.</translation>
    </message>
    <message>
        <source>The server gave an unexpected answer (HTTP %1); check the address, or tell whoever runs the server.</source>
        <translation>أعطى الخادم ردًا غير متوقع (HTTP %1)؛ تحقّق من العنوان، أو أبلغ المسؤول عن الخادم.</translation>
    </message>
    <message>
        <source>The server is busy (HTTP 429); the download will try again later.</source>
        <translation>الخادم مشغول (HTTP 429)؛ سيُعاد التنزيل لاحقًا.</translation>
    </message>
    <message>
        <source>The link stopped working part-way through the file (it expired?); get a new link and download it again with that one: it goes on from where it stopped.</source>
        <translation>توقف الرابط عن العمل في منتصف الملف (انتهت صلاحيته؟)؛ احصل على رابط جديد وأعد التنزيل به: يستأنف من حيث توقف.</translation>
    </message>
    <message>
        <source>The network asks for a sign-in (HTTP 511): open any web page in a browser on this computer and sign in to the network; the transfer goes on after.</source>
        <translation>تطلب الشبكة تسجيل الدخول (HTTP 511): افتح أي صفحة ويب في متصفح على هذا الحاسوب وسجّل الدخول إلى الشبكة؛ يستأنف التحويل بعد ذلك.</translation>
    </message>
    <message>
        <source>Another download is writing “%1” right now (from another ALU Desk or data folder); this one waits and tries again.</source>
        <translation>تنزيل آخر يكتب «%1» الآن (من ALU Desk آخر أو مجلد بيانات آخر)؛ هذا التنزيل ينتظر ثم يحاول من جديد.</translation>
    </message>
    <message>
        <source>The hub&apos;s answer had no usable offset.</source>
        <translation>لم يتضمن رد المركز موضعًا صالحًا.</translation>
    </message>
    <message>
        <source>The hub stopped waiting for the upload&apos;s bytes (HTTP 408); the upload goes on from what it received.</source>
        <translation>توقف المركز عن انتظار بايتات الرفع (HTTP 408)؛ يستأنف الرفع مما استلمه.</translation>
    </message>
    <message>
        <source>The network does not pass PATCH; the chunk goes again as POST.</source>
        <translation>لا تمرّر الشبكة طلبات PATCH؛ يُعاد إرسال الجزء بطلب POST.</translation>
    </message>
    <message>
        <source>The server at this address does not take uploads (HTTP 501); check the address.</source>
        <translation>الخادم على هذا العنوان لا يستقبل الإرسال (HTTP 501)؛ تحقّق من العنوان.</translation>
    </message>
    <message>
        <source>The server does not speak the upload protocol version this app uses (tus 1.0).</source>
        <translation>لا يدعم الخادم إصدار بروتوكول الإرسال الذي يستخدمه هذا التطبيق (tus 1.0).</translation>
    </message>
    <message>
        <source>The file changed during the upload; its content is checked before the upload goes on.</source>
        <translation>تغيّر الملف أثناء الإرسال؛ يُتحقَّق من محتواه قبل مواصلة الإرسال.</translation>
    </message>
    <message>
        <source>The hub sent a malformed item.</source>
        <translation>أرسل المركز مادةً غير سليمة.</translation>
    </message>
    <message>
        <source>The hub sent a malformed item (field %1).</source>
        <translation>أرسل المركز مادةً غير سليمة (الحقل %1).</translation>
    </message>
    <message>
        <source>The hub sent a malformed member.</source>
        <translation>أرسل المركز بيانات عضو غير سليمة.</translation>
    </message>
    <message>
        <source>The hub sent a malformed member (field %1).</source>
        <translation>أرسل المركز بيانات عضو غير سليمة (الحقل %1).</translation>
    </message>
    <message>
        <source>The hub sent a malformed rendition.</source>
        <translation>أرسل المركز وصف ملف غير سليم.</translation>
    </message>
    <message>
        <source>The hub sent a malformed rendition (field %1).</source>
        <translation>أرسل المركز وصف ملف غير سليم (الحقل %1).</translation>
    </message>
    <message>
        <source>The hub sent a malformed feed page.</source>
        <translation>أرسل المركز صفحة تغذية غير سليمة.</translation>
    </message>
    <message>
        <source>The hub sent a malformed feed page (field %1).</source>
        <translation>أرسل المركز صفحة تغذية غير سليمة (الحقل %1).</translation>
    </message>
    <message>
        <source>The hub sent a malformed history page.</source>
        <translation>أرسل المركز صفحة سجل غير سليمة.</translation>
    </message>
    <message>
        <source>The hub sent a malformed history page (field %1).</source>
        <translation>أرسل المركز صفحة سجل غير سليمة (الحقل %1).</translation>
    </message>
    <message>
        <source>The hub sent a malformed history event.</source>
        <translation>أرسل المركز حدث سجل غير سليم.</translation>
    </message>
    <message>
        <source>The hub sent a malformed history event (field %1).</source>
        <translation>أرسل المركز حدث سجل غير سليم (الحقل %1).</translation>
    </message>
    <message>
        <source>The hub sent a malformed sign-in answer.</source>
        <translation>أرسل المركز ردّ تسجيل دخول غير سليم.</translation>
    </message>
    <message>
        <source>The hub sent a malformed sign-in answer (field %1).</source>
        <translation>أرسل المركز ردّ تسجيل دخول غير سليم (الحقل %1).</translation>
    </message>
    <message>
        <source>The hub sent a malformed %1.</source>
        <translation>أرسل المركز ردًا غير سليم (%1).</translation>
    </message>
    <message>
        <source>The hub sent a malformed %1 (field %2).</source>
        <translation>أرسل المركز ردًا غير سليم (%1، الحقل %2).</translation>
    </message>
    <message>
        <source>The file changed since the upload started; add it again.</source>
        <translation>تغيّر الملف منذ بدء الإرسال؛ أضفه من جديد.</translation>
    </message>
    <message>
        <source>The server sent an answer that is not valid HTTP: two different lengths (Content-Length) for one answer. It is not tried again; tell whoever runs the server.</source>
        <translation>أرسل الخادم ردًّا ليس HTTP صالحًا: طولان مختلفان (Content-Length) لردّ واحد. لن يُعاد الطلب؛ أبلغ المسؤول عن الخادم.</translation>
    </message>
    <message>
        <source>The server has no file at this address (HTTP %1): it was removed, or the address is wrong.</source>
        <translation>لا يوجد لدى الخادم ملف على هذا العنوان (HTTP ⁨%1⁩): إمّا أنه حُذف، وإمّا أن العنوان خاطئ.</translation>
    </message>
    <message>
        <source>The server sent the download to an address that is not valid.</source>
        <translation>أحال الخادم التنزيل إلى عنوان غير صالح.</translation>
    </message>
    <message>
        <source>The agency withdrew this item: %1</source>
        <translation>سحبت الوكالة هذه المادة: %1</translation>
    </message>
    <message>
        <source>The file is downloaded and checked, but another program (an antivirus, OneDrive, the search indexer?) keeps it open; it is put in place at the next try.</source>
        <translation>نُزّل الملف وتم التحقق منه، لكن برنامجًا آخر (مضاد فيروسات، OneDrive، مفهرس البحث؟) يبقيه مفتوحًا؛ يوضع في مكانه في المحاولة التالية.</translation>
    </message>
    <message>
        <source>Another download left “%1” unfinished; this one saves the file as “%2”.</source>
        <translation>ترك تنزيل آخر «⁨%1⁩» غير مكتمل؛ هذا التنزيل يحفظ الملف باسم «⁨%2⁩».</translation>
    </message>
    <message>
        <source>The download folder&apos;s path is too long for Windows: choose a shorter folder.</source>
        <translation>مسار مجلد التنزيل أطول مما يقبله Windows: اختر مجلدًا أقصر.</translation>
    </message>
    <message>
        <source>The file&apos;s path is too long for Windows (more than 259 characters with its folder): choose a shorter folder or name.</source>
        <translation>مسار الملف أطول مما يقبله Windows (أكثر من 259 حرفًا مع مجلده): اختر مجلدًا أو اسمًا أقصر.</translation>
    </message>
    <message>
        <source>The upload address is not valid.</source>
        <translation>عنوان الإرسال غير صالح.</translation>
    </message>
    <message>
        <source>The download folder %1 is not there (a drive unplugged, or a network share away); plug it in, or choose another folder in Settings.</source>
        <translation>مجلد التنزيل %1 غير موجود (قرص منزوع أو مشاركة شبكية غائبة)؛ أعد توصيله، أو اختر مجلدًا آخر في الإعدادات.</translation>
    </message>
    <message>
        <source>The hub had lost the partial upload; it started again from the beginning.</source>
        <translation>كان المركز قد فقد الإرسال الجزئي؛ فبدأ من جديد من البداية.</translation>
    </message>
    <message>
        <source>The partial upload had expired at the hub; it started again from the beginning.</source>
        <translation>كان الإرسال الجزئي قد انتهت صلاحيته لدى المركز؛ فبدأ من جديد من البداية.</translation>
    </message>
    <message>
        <source>This item was on the agency&apos;s previous hub at this address; the new hub there does not have it. Nothing was deleted here: download the item again from the feed if the new hub has it.</source>
        <translation>كانت هذه المادة على المركز السابق للوكالة في هذا العنوان؛ والمركز الجديد فيه لا يملكها. لم يُحذف شيء هنا: نزّل المادة من جديد من الموجز إن كانت على المركز الجديد.</translation>
    </message>
    <message>
        <source>The agency&apos;s hub at this address was replaced by a new one; the upload starts again from the beginning on the new hub.</source>
        <translation>استُبدل مركز الوكالة في هذا العنوان بمركز جديد؛ يبدأ الإرسال من جديد من البداية على المركز الجديد.</translation>
    </message>
    <message>
        <source>The connection dropped just as the hub was joining the parts of the file, and this computer could not learn what became of it; check the feed before adding the file again.</source>
        <translation>انقطع الاتصال بينما كان المركز يجمع أجزاء الملف، ولم يتمكن هذا الحاسوب من معرفة ما آل إليه؛ راجع الموجز قبل إضافة الملف من جديد.</translation>
    </message>
    <message>
        <source>The hub received %1 but could not publish it: %2</source>
        <translation>استلم المركز %1 لكنه لم يتمكن من نشره: %2</translation>
    </message>
    <message>
        <source>The file is %1, larger than the %2 the hub accepts.</source>
        <translation>حجم الملف %1، وهو أكبر من %2 التي يقبلها المركز.</translation>
    </message>
    <message>
        <source>The hub does not accept a file this large (%1).</source>
        <translation>لا يقبل المركز ملفًا بهذا الحجم (%1).</translation>
    </message>
    <message>
        <source>The hub does not accept the item&apos;s texts: the script, shot list and restrictions are too long together. Shorten them and upload the file again.</source>
        <translation>لا يقبل المركز نصوص المادة: النص وقائمة اللقطات والقيود أطول من اللازم مجتمعةً. اختصرها ثم ارفع الملف مرة أخرى.</translation>
    </message>
    <message>
        <source>The hub refused the upload for this account: %1</source>
        <translation>رفض المركز الإرسال لهذا الحساب: %1</translation>
    </message>
    <message>
        <source>The hub refused the upload: %1</source>
        <translation>رفض المركز الإرسال: %1</translation>
    </message>
    <message>
        <source>This file is already on the network: it is the agency&apos;s “%1” (published %2). It was not published again.</source>
        <translation>هذا الملف موجود بالفعل على الشبكة: إنه «⁨%1⁩» من الوكالة (نُشر في ⁨%2⁩). لم يُنشر مرة أخرى.</translation>
    </message>
    <message>
        <source>This file is already on the network: it is “%1”, sent by %2 (published %3). It was not published again.</source>
        <translation>هذا الملف موجود بالفعل على الشبكة: إنه «⁨%1⁩»، أرسله ⁨%2⁩ (نُشر في ⁨%3⁩). لم يُنشر مرة أخرى.</translation>
    </message>
    <message>
        <source>The hub is busy or had a problem (HTTP %1); the upload will go on later.</source>
        <translation>المركز مشغول أو واجه مشكلة (HTTP %1)؛ سيستمر الإرسال لاحقًا.</translation>
    </message>
    <message>
        <source>The hub&apos;s disk is full; the upload will go on once the agency has made room.</source>
        <translation>قرص المركز ممتلئ؛ سيستمر الإرسال حين تُفرغ الوكالة مساحة.</translation>
    </message>
    <message>
        <source>The hub is busy or unavailable (HTTP %1); it will try again.</source>
        <translation>المركز مشغول أو غير متاح (HTTP %1)؛ ستُعاد المحاولة.</translation>
    </message>
    <message>
        <source>The upload detail %1 has a name a hub cannot take.</source>
        <translation>تفصيل الإرسال %1 يحمل اسمًا لا يقبله المركز.</translation>
    </message>
    <message>
        <source>The hub refuses even pieces of %1; it cannot take this upload.</source>
        <translation>يرفض المركز حتى أجزاءً بحجم %1؛ لا يمكنه قبول هذا الإرسال.</translation>
    </message>
    <message>
        <source>The file %1 is no longer there (moved or deleted); it cannot be uploaded.</source>
        <translation>لم يعد الملف %1 موجودًا (نُقل أو حُذف)؛ لا يمكن إرساله.</translation>
    </message>
    <message>
        <source>The file %1 cannot be read (permission denied); it cannot be uploaded.</source>
        <translation>لا يمكن قراءة الملف %1 (الإذن مرفوض)؛ لا يمكن رفعه.</translation>
    </message>
    <message>
        <source>The file %1 cannot be reached now (its folder or drive is away: a network share?); the upload goes on when it is back.</source>
        <translation>لا يمكن الوصول إلى الملف %1 الآن (مجلده أو قرصه غير متاح: مشاركة شبكية؟)؛ سيُستأنف الرفع عند عودته.</translation>
    </message>
    <message>
        <source>The file %1 is in use by another program (still being exported or copied?); the upload goes on when it is free.</source>
        <translation>الملف ⁨%1⁩ قيد الاستخدام من برنامج آخر (لا يزال قيد التصدير أو النسخ؟)؛ يتواصل الرفع عندما يصبح متاحًا.</translation>
    </message>
    <message>
        <source>The file %1 was replaced by a link (a shortcut to a file elsewhere) after it was taken from the hot folder: links are not followed, so it was not uploaded. Put the file itself in the folder.</source>
        <translation>استُبدل بالملف ⁨%1⁩ رابطٌ (اختصار إلى ملف في مكان آخر) بعد أخذه من المجلد المراقَب: لا تُتَّبع الروابط، لذا لم يُرفع. ضع الملف نفسه في المجلد.</translation>
    </message>
    <message>
        <source>The server&apos;s security certificate was refused (is the computer&apos;s date right, or is a network login page in the way? A network with its own certificate authority needs its CA bundle in the hub&apos;s profile).</source>
        <translation>رُفضت شهادة أمان الخادم (هل تاريخ الحاسوب صحيح، أم أن صفحة دخول إلى الشبكة تعترض الطريق؟ تحتاج الشبكة ذات سلطة الشهادات الخاصة إلى حزمة شهاداتها في ملف تعريف المركز).</translation>
    </message>
    <message>
        <source>The server&apos;s answer has more header lines than this app reads (over 100, or one over 256 KiB), so it cannot be used; tell whoever runs the server.</source>
        <translation>يحتوي رد الخادم على أسطر ترويسة أكثر مما يقرؤه هذا التطبيق (أكثر من 100، أو سطر يتجاوز 256 كيلوبايت)، فلا يمكن استخدامه؛ أبلغ من يدير الخادم.</translation>
    </message>
    <message>
        <source>Cancelled.</source>
        <translation>أُلغي.</translation>
    </message>
    <message>
        <source>Paused.</source>
        <translation>متوقف مؤقتًا.</translation>
    </message>
    <message>
        <source>The disk is full. The transfer resumes when there is space again.</source>
        <translation>القرص ممتلئ. سيُستأنف النقل عند توفر مساحة من جديد.</translation>
    </message>
    <message>
        <source>The disk that holds ALU Desk&apos;s data folder is full; the transfer goes on when there is space there again.</source>
        <translation>القرص الذي يحوي مجلد بيانات ALU Desk ممتلئ؛ يُستأنف النقل عندما تتوفر فيه مساحة من جديد.</translation>
    </message>
    <message>
        <source>ALU Desk&apos;s library cannot be written; the transfer goes on when it can be written again.</source>
        <translation>تتعذّر الكتابة في مكتبة ALU Desk؛ يُستأنف النقل عندما تصبح الكتابة ممكنة من جديد.</translation>
    </message>
    <message>
        <source>The disk that holds ALU Desk&apos;s data folder is full; the history is synced when there is space there again.</source>
        <translation>القرص الذي يحوي مجلد بيانات ALU Desk ممتلئ؛ يُزامَن السجل عندما تتوفر فيه مساحة من جديد.</translation>
    </message>
    <message>
        <source>The hub&apos;s security certificate could not be checked (is the computer&apos;s date right, or is a network login page in the way?); the transfer will be tried again.</source>
        <translation>تعذّر التحقق من شهادة أمان المركز (هل تاريخ الحاسوب صحيح، أم تعترض الطريقَ صفحةُ دخول إلى الشبكة؟)؛ ستُعاد محاولة النقل.</translation>
    </message>
    <message>
        <source>The hub&apos;s security certificate could not be checked (is the computer&apos;s date right, or is a network login page in the way?); the transfer has stopped; you can try it again from the list.</source>
        <translation>تعذّر التحقق من شهادة أمان المركز (هل تاريخ الحاسوب صحيح، أم تعترض الطريقَ صفحةُ دخول إلى الشبكة؟)؛ توقف النقل؛ يمكنك إعادة محاولته من القائمة.</translation>
    </message>
    <message>
        <source>The hub did not answer in time; the transfer will be tried again.</source>
        <translation>لم يُجب المركز في الوقت المحدد؛ ستُعاد محاولة النقل.</translation>
    </message>
    <message>
        <source>The hub did not answer in time; the transfer has stopped; you can try it again from the list.</source>
        <translation>لم يُجب المركز في الوقت المحدد؛ توقف النقل؛ يمكنك إعادة محاولته من القائمة.</translation>
    </message>
    <message>
        <source>The connection to the hub was lost; the transfer will be tried again.</source>
        <translation>انقطع الاتصال بالمركز؛ ستُعاد محاولة النقل.</translation>
    </message>
    <message>
        <source>The connection to the hub was lost; the transfer has stopped; you can try it again from the list.</source>
        <translation>انقطع الاتصال بالمركز؛ توقف النقل؛ يمكنك إعادة محاولته من القائمة.</translation>
    </message>
    <message>
        <source>The hub answered with an error (%1); the transfer will be tried again.</source>
        <translation>ردّ المركز بخطأ (%1)؛ ستُعاد محاولة النقل.</translation>
    </message>
    <message>
        <source>The hub answered with an error (%1); the transfer has stopped; you can try it again from the list.</source>
        <translation>ردّ المركز بخطأ (%1)؛ توقف النقل؛ يمكنك إعادة محاولته من القائمة.</translation>
    </message>
    <message>
        <source>Something went wrong in ALU Desk (%1); the transfer will be tried again.</source>
        <translation>حدث خطأ في ALU Desk (%1)؛ ستُعاد محاولة النقل.</translation>
    </message>
    <message>
        <source>Something went wrong in ALU Desk (%1); the transfer has stopped; you can try it again from the list.</source>
        <translation>حدث خطأ في ALU Desk (%1)؛ توقف النقل؛ يمكنك إعادة محاولته من القائمة.</translation>
    </message>
    <message>
        <source>The network&apos;s proxy (%1) wants a user name and password (HTTP 407) to reach %2. Give them with the profile&apos;s proxy (in the app&apos;s settings, or alu login --proxy http://user:password@proxy:3128; kept in the keyring) or in the system&apos;s proxy setting, or ask the network&apos;s administrator to let this computer through without one.</source>
        <translation>يطلب وكيل الشبكة (%1) اسم مستخدم وكلمة مرور (HTTP 407) للوصول إلى %2. أدخلهما مع وكيل الملف الشخصي (في إعدادات التطبيق، أو alu login --proxy http://user:password@proxy:3128؛ يُحفظان في سلسلة المفاتيح) أو في إعداد الوكيل في النظام، أو اطلب من مسؤول الشبكة السماح لهذا الحاسوب بالمرور دونهما.</translation>
    </message>
    <message>
        <source>The network&apos;s proxy wants a user name and password (HTTP 407) to reach %1. Give them with the profile&apos;s proxy (in the app&apos;s settings, or alu login --proxy http://user:password@proxy:3128; kept in the keyring) or in the system&apos;s proxy setting, or ask the network&apos;s administrator to let this computer through without one.</source>
        <translation>يطلب وكيل الشبكة اسم مستخدم وكلمة مرور (HTTP 407) للوصول إلى %1. أدخلهما مع وكيل الملف الشخصي (في إعدادات التطبيق، أو alu login --proxy http://user:password@proxy:3128؛ يُحفظان في سلسلة المفاتيح) أو في إعداد الوكيل في النظام، أو اطلب من مسؤول الشبكة السماح لهذا الحاسوب بالمرور دونهما.</translation>
    </message>
    <message>
        <source>The network&apos;s proxy (%1) did not accept the user name and password given for it (HTTP 407) to reach %2. Check them where they were given (the profile&apos;s proxy, in the app&apos;s settings or with alu login --proxy, or the system&apos;s proxy setting such as HTTPS_PROXY), or ask the network&apos;s administrator.</source>
        <translation>لم يقبل وكيل الشبكة (⁦%1⁩) اسم المستخدم وكلمة المرور المُدخلَين له (HTTP 407) للوصول إلى ⁦%2⁩. تحقّق منهما حيث أُدخلا (وكيل الملف الشخصي، في إعدادات التطبيق أو عبر ⁦alu login --proxy⁩، أو إعداد الوكيل في النظام مثل ⁦HTTPS_PROXY⁩)، أو اسأل مسؤول الشبكة.</translation>
    </message>
    <message>
        <source>The network&apos;s proxy did not accept the user name and password given for it (HTTP 407) to reach %1. Check them where they were given (the profile&apos;s proxy, in the app&apos;s settings or with alu login --proxy, or the system&apos;s proxy setting such as HTTPS_PROXY), or ask the network&apos;s administrator.</source>
        <translation>لم يقبل وكيل الشبكة اسم المستخدم وكلمة المرور المُدخلَين له (HTTP 407) للوصول إلى ⁦%1⁩. تحقّق منهما حيث أُدخلا (وكيل الملف الشخصي، في إعدادات التطبيق أو عبر ⁦alu login --proxy⁩، أو إعداد الوكيل في النظام مثل ⁦HTTPS_PROXY⁩)، أو اسأل مسؤول الشبكة.</translation>
    </message>
    <message>
        <source>The network&apos;s proxy (%1) could not reach %2 (HTTP %3); trying again later.</source>
        <translation>تعذّر على وكيل الشبكة (%1) الوصول إلى %2 (HTTP %3)؛ ستُعاد المحاولة لاحقًا.</translation>
    </message>
    <message>
        <source>The network&apos;s proxy could not reach %1 (HTTP %2); trying again later.</source>
        <translation>تعذّر على وكيل الشبكة الوصول إلى %1 (HTTP %2)؛ ستُعاد المحاولة لاحقًا.</translation>
    </message>
    <message>
        <source>The network&apos;s proxy (%1) refused to pass the request to %2 (HTTP %3); check the proxy settings, or ask the network&apos;s administrator to let this computer reach it.</source>
        <translation>رفض وكيل الشبكة (%1) تمرير الطلب إلى %2 (HTTP %3)؛ تحقّق من إعدادات الوكيل، أو اطلب من مسؤول الشبكة السماح لهذا الحاسوب بالوصول إليه.</translation>
    </message>
    <message>
        <source>The network&apos;s proxy refused to pass the request to %1 (HTTP %2); check the proxy settings, or ask the network&apos;s administrator to let this computer reach it.</source>
        <translation>رفض وكيل الشبكة تمرير الطلب إلى %1 (HTTP %2)؛ تحقّق من إعدادات الوكيل، أو اطلب من مسؤول الشبكة السماح لهذا الحاسوب بالوصول إليه.</translation>
    </message>
    <message>
        <source>The server&apos;s security certificate was refused (%1). Is the computer&apos;s date right, or is a network login page in the way? A network with its own certificate authority needs its CA bundle: in the profile (the app&apos;s sign-in, alu login --ca-bundle), or in REQUESTS_CA_BUNDLE or SSL_CERT_FILE for alu fetch and alu tus-put.</source>
        <translation>رُفضت شهادة أمان الخادم (%1). هل تاريخ الحاسوب صحيح، أم أن صفحة دخول إلى الشبكة تعترض الطريق؟ تحتاج الشبكة ذات سلطة الشهادات الخاصة إلى حزمة شهاداتها: في ملف التعريف (تسجيل الدخول في التطبيق، alu login --ca-bundle)، أو في REQUESTS_CA_BUNDLE أو SSL_CERT_FILE من أجل alu fetch و alu tus-put.</translation>
    </message>
    <message>
        <source>The server did not answer in TLS (https) at this address: is its port one for plain http, or is a network login page in the way?</source>
        <translation>لم يُجب الخادم بـ TLS ‏(https) على هذا العنوان: هل منفذه خاص بـ http العادي، أم أن صفحة دخول إلى الشبكة تعترض الطريق؟</translation>
    </message>
    <message>
        <source>The server answered with something that is not HTTP: check the address (is its port one for another service?).</source>
        <translation>ردّ الخادم بشيء ليس HTTP: تحقّق من العنوان (هل منفذه لخدمة أخرى؟).</translation>
    </message>
    <message>
        <source>The network&apos;s proxy (%1) cannot be reached; check the proxy settings.</source>
        <translation>تعذّر الوصول إلى وكيل الشبكة (%1)؛ تحقّق من إعدادات الوكيل.</translation>
    </message>
    <message>
        <source>The network&apos;s proxy cannot be reached; check the proxy settings.</source>
        <translation>تعذّر الوصول إلى وكيل الشبكة؛ تحقّق من إعدادات الوكيل.</translation>
    </message>
    <message>
        <source>The security certificate of the network&apos;s proxy (%1) was refused (%2), so the server was not reached. Is the computer&apos;s date right? The proxy&apos;s certificate authority must be trusted: add it to the system&apos;s certificate store, or give a CA bundle that holds it and the server&apos;s authority (a bundle given is the only one trusted): in the profile (the app&apos;s sign-in, alu login --ca-bundle), or in REQUESTS_CA_BUNDLE or SSL_CERT_FILE for alu fetch and alu tus-put.</source>
        <translation>رُفضت شهادة الأمان الخاصة بوكيل الشبكة (%1) (%2)، فلم يُتوصَّل إلى الخادم. هل تاريخ الحاسوب صحيح؟ يجب أن تكون جهة تصديق شهادة الوكيل موثوقة: أضفها إلى مخزن شهادات النظام، أو حدّد ملف شهادات (CA bundle) يحويها مع جهة تصديق الخادم (الملف المحدَّد هو الوحيد الموثوق): في ملف التعريف (تسجيل الدخول في التطبيق، alu login --ca-bundle)، أو في REQUESTS_CA_BUNDLE أو SSL_CERT_FILE للأمرين alu fetch وalu tus-put.</translation>
    </message>
    <message>
        <source>The security certificate of the network&apos;s proxy was refused (%1), so the server was not reached. Is the computer&apos;s date right? The proxy&apos;s certificate authority must be trusted: add it to the system&apos;s certificate store, or give a CA bundle that holds it and the server&apos;s authority (a bundle given is the only one trusted): in the profile (the app&apos;s sign-in, alu login --ca-bundle), or in REQUESTS_CA_BUNDLE or SSL_CERT_FILE for alu fetch and alu tus-put.</source>
        <translation>رُفضت شهادة الأمان الخاصة بوكيل الشبكة (%1)، فلم يُتوصَّل إلى الخادم. هل تاريخ الحاسوب صحيح؟ يجب أن تكون جهة تصديق شهادة الوكيل موثوقة: أضفها إلى مخزن شهادات النظام، أو حدّد ملف شهادات (CA bundle) يحويها مع جهة تصديق الخادم (الملف المحدَّد هو الوحيد الموثوق): في ملف التعريف (تسجيل الدخول في التطبيق، alu login --ca-bundle)، أو في REQUESTS_CA_BUNDLE أو SSL_CERT_FILE للأمرين alu fetch وalu tus-put.</translation>
    </message>
    <message>
        <source>The server&apos;s file is not the one expected: it arrived twice with the same different checksum, so it is not damage on the way. Nothing was kept; check the checksum you gave, or tell whoever runs the server.</source>
        <translation>ملف الخادم ليس الملف المنتظر: وصل مرتين بمجموع التحقق المختلف نفسه، فالخلل ليس تلفًا أثناء النقل. لم يُحتفظ بشيء؛ تحقّق من مجموع التحقق الذي أعطيته، أو أبلغ من يدير الخادم.</translation>
    </message>
    <message>
        <source>The server keeps sending the file compressed, so it cannot be checked or resumed. Tell whoever runs the server.</source>
        <translation>يواصل الخادم إرسال الملف مضغوطًا، فلا يمكن التحقق منه ولا استئنافه. أبلغ من يدير الخادم.</translation>
    </message>
    <message>
        <source>The server refused access (HTTP %1). Check the credentials given, or ask whoever runs the server.</source>
        <translation>رفض الخادم الوصول (HTTP %1). تحقّق من بيانات الدخول المعطاة، أو اسأل من يدير الخادم.</translation>
    </message>
    <message>
        <source>The server refused the upload (is the address one for tus uploads? Check it and the credentials given): %1</source>
        <translation>رفض الخادم الإرسال (هل العنوان لإرسالات tus؟ تحقّق منه ومن بيانات الاعتماد المعطاة): %1</translation>
    </message>
    <message>
        <source>The server took none of the piece it was sent.</source>
        <translation>لم يحتفظ الخادم بأي شيء من الجزء الذي أُرسل إليه.</translation>
    </message>
    <message>
        <source>The server could not join the parts yet; it will try again.</source>
        <translation>لم يتمكن الخادم بعد من تجميع الأجزاء؛ ستُعاد المحاولة.</translation>
    </message>
    <message>
        <source>Another connection is still writing to this upload at the server; it will go on later.</source>
        <translation>ما زال اتصال آخر يكتب في هذا الإرسال على الخادم؛ سيستمر لاحقًا.</translation>
    </message>
    <message>
        <source>Pieces of the file kept arriving damaged at the server; it will try again.</source>
        <translation>ظلت أجزاء من الملف تصل تالفة إلى الخادم؛ ستُعاد المحاولة.</translation>
    </message>
    <message>
        <source>The connection to the server dropped.</source>
        <translation>انقطع الاتصال بالخادم.</translation>
    </message>
    <message>
        <source>The server and this computer disagreed on how much had arrived.</source>
        <translation>اختلف الخادم وهذا الحاسوب على مقدار ما وصل.</translation>
    </message>
    <message>
        <source>The server answered with a redirect, which an upload does not follow; check the server&apos;s address.</source>
        <translation>ردّ الخادم بإعادة توجيه لا يتبعها الإرسال؛ تحقّق من عنوان الخادم.</translation>
    </message>
    <message>
        <source>The server could not be reached; the upload will try again.</source>
        <translation>تعذّر الوصول إلى الخادم؛ سيُعاد الإرسال.</translation>
    </message>
    <message>
        <source>The server did not accept this sign-in; sign in again, then retry.</source>
        <translation>لم يقبل الخادم تسجيل الدخول هذا؛ سجّل الدخول من جديد ثم أعد المحاولة.</translation>
    </message>
    <message>
        <source>The server did not say where the joined file is.</source>
        <translation>لم يذكر الخادم أين يوجد الملف المجمَّع.</translation>
    </message>
    <message>
        <source>The server did not say where to send the file; is it a tus server?</source>
        <translation>لم يذكر الخادم إلى أين يُرسَل الملف؛ هل هو خادم tus؟</translation>
    </message>
    <message>
        <source>The server gave an address for the upload that cannot be used; tell whoever runs it.</source>
        <translation>أعطى الخادم عنوانًا للرفع لا يمكن استخدامه؛ أبلغ المسؤول عنه.</translation>
    </message>
    <message>
        <source>The server has no upload service at this address; check the server&apos;s address.</source>
        <translation>لا توجد لدى الخادم خدمة إرسال على هذا العنوان؛ تحقّق من عنوان الخادم.</translation>
    </message>
    <message>
        <source>The server lost the upload again; it will try later.</source>
        <translation>فقد الخادم الإرسال مرة أخرى؛ ستُعاد المحاولة لاحقًا.</translation>
    </message>
    <message>
        <source>The server no longer has this upload.</source>
        <translation>لم يعد هذا الإرسال موجودًا لدى الخادم.</translation>
    </message>
    <message>
        <source>The server&apos;s answer had an unexpected offset.</source>
        <translation>احتوى رد الخادم على موضع غير متوقع.</translation>
    </message>
    <message>
        <source>The server&apos;s answer had no usable offset.</source>
        <translation>لم يتضمن رد الخادم موضعًا صالحًا.</translation>
    </message>
    <message>
        <source>The server stopped waiting for the upload&apos;s bytes (HTTP 408); the upload goes on from what it received.</source>
        <translation>توقف الخادم عن انتظار بايتات الرفع (HTTP 408)؛ يستأنف الرفع مما استلمه.</translation>
    </message>
    <message>
        <source>The server had lost the partial upload; it started again from the beginning.</source>
        <translation>كان الخادم قد فقد الإرسال الجزئي؛ فبدأ من جديد من البداية.</translation>
    </message>
    <message>
        <source>The partial upload had expired at the server; it started again from the beginning.</source>
        <translation>كان الإرسال الجزئي قد انتهت صلاحيته لدى الخادم؛ فبدأ من جديد من البداية.</translation>
    </message>
    <message>
        <source>The connection dropped just as the server was joining the parts of the file, and this computer could not learn what became of it; check the feed before adding the file again.</source>
        <translation>انقطع الاتصال بينما كان الخادم يجمع أجزاء الملف، ولم يتمكن هذا الحاسوب من معرفة ما آل إليه؛ راجع الموجز قبل إضافة الملف من جديد.</translation>
    </message>
    <message>
        <source>The server received %1 but could not publish it: %2</source>
        <translation>استلم الخادم %1 لكنه لم يتمكن من نشره: %2</translation>
    </message>
    <message>
        <source>The file is %1, larger than the %2 the server accepts.</source>
        <translation>حجم الملف %1، وهو أكبر من %2 التي يقبلها الخادم.</translation>
    </message>
    <message>
        <source>The server does not accept a file this large (%1).</source>
        <translation>لا يقبل الخادم ملفًا بهذا الحجم (%1).</translation>
    </message>
    <message>
        <source>The server does not accept the item&apos;s texts: the script, shot list and restrictions are too long together. Shorten them and upload the file again.</source>
        <translation>لا يقبل الخادم نصوص المادة: النص وقائمة اللقطات والقيود أطول من اللازم مجتمعةً. اختصرها ثم ارفع الملف مرة أخرى.</translation>
    </message>
    <message>
        <source>The server refused the upload for this account: %1</source>
        <translation>رفض الخادم الإرسال لهذا الحساب: %1</translation>
    </message>
    <message>
        <source>The server refused the upload: %1</source>
        <translation>رفض الخادم الإرسال: %1</translation>
    </message>
    <message>
        <source>The server is busy or had a problem (HTTP %1); the upload will go on later.</source>
        <translation>الخادم مشغول أو واجه مشكلة (HTTP %1)؛ سيستمر الإرسال لاحقًا.</translation>
    </message>
    <message>
        <source>The server&apos;s disk is full; the upload will go on once the server has room again.</source>
        <translation>قرص الخادم ممتلئ؛ سيستمر الإرسال حين تتوفر على الخادم مساحة من جديد.</translation>
    </message>
    <message>
        <source>The server is busy or unavailable (HTTP %1); it will try again.</source>
        <translation>الخادم مشغول أو غير متاح (HTTP %1)؛ ستُعاد المحاولة.</translation>
    </message>
    <message>
        <source>The server refuses even pieces of %1; it cannot take this upload.</source>
        <translation>يرفض الخادم حتى أجزاءً بحجم %1؛ لا يمكنه قبول هذا الإرسال.</translation>
    </message>
    <message>
        <source>The server&apos;s security certificate was refused (is the computer&apos;s date right, or is a network login page in the way? A network with its own certificate authority needs its CA bundle in the server&apos;s profile).</source>
        <translation>رُفضت شهادة أمان الخادم (هل تاريخ الحاسوب صحيح، أم أن صفحة دخول إلى الشبكة تعترض الطريق؟ تحتاج الشبكة ذات سلطة الشهادات الخاصة إلى حزمة شهاداتها في ملف تعريف الخادم).</translation>
    </message>
    <message>
        <source>The server&apos;s security certificate could not be checked (is the computer&apos;s date right, or is a network login page in the way?); the transfer will be tried again.</source>
        <translation>تعذّر التحقق من شهادة أمان الخادم (هل تاريخ الحاسوب صحيح، أم تعترض الطريقَ صفحةُ دخول إلى الشبكة؟)؛ ستُعاد محاولة النقل.</translation>
    </message>
    <message>
        <source>The server&apos;s security certificate could not be checked (is the computer&apos;s date right, or is a network login page in the way?); the transfer has stopped; you can try it again from the list.</source>
        <translation>تعذّر التحقق من شهادة أمان الخادم (هل تاريخ الحاسوب صحيح، أم تعترض الطريقَ صفحةُ دخول إلى الشبكة؟)؛ توقف النقل؛ يمكنك إعادة محاولته من القائمة.</translation>
    </message>
    <message>
        <source>The server did not answer in time; the transfer will be tried again.</source>
        <translation>لم يُجب الخادم في الوقت المحدد؛ ستُعاد محاولة النقل.</translation>
    </message>
    <message>
        <source>The server did not answer in time; the transfer has stopped; you can try it again from the list.</source>
        <translation>لم يُجب الخادم في الوقت المحدد؛ توقف النقل؛ يمكنك إعادة محاولته من القائمة.</translation>
    </message>
    <message>
        <source>The connection to the server was lost; the transfer will be tried again.</source>
        <translation>انقطع الاتصال بالخادم؛ ستُعاد محاولة النقل.</translation>
    </message>
    <message>
        <source>The connection to the server was lost; the transfer has stopped; you can try it again from the list.</source>
        <translation>انقطع الاتصال بالخادم؛ توقف النقل؛ يمكنك إعادة محاولته من القائمة.</translation>
    </message>
    <message>
        <source>The server answered with an error (%1); the transfer will be tried again.</source>
        <translation>ردّ الخادم بخطأ (%1)؛ ستُعاد محاولة النقل.</translation>
    </message>
    <message>
        <source>The server answered with an error (%1); the transfer has stopped; you can try it again from the list.</source>
        <translation>ردّ الخادم بخطأ (%1)؛ توقف النقل؛ يمكنك إعادة محاولته من القائمة.</translation>
    </message>
    <message>
        <source>Not in contact with the hub yet.</source>
        <translation>لم يتم الاتصال بالمركز بعد.</translation>
    </message>
    <message>
        <source>Not signed in to this hub; sign in first.</source>
        <translation>لم يتم تسجيل الدخول إلى هذا المركز؛ سجّل الدخول أولًا.</translation>
    </message>
    <message>
        <source>%1 is not a hub address; it looks like https://hub.example.org</source>
        <translation>⁦%1⁩ ليس عنوان مركز؛ يكون العنوان مثل ⁦https://hub.example.org⁩</translation>
    </message>
    <message>
        <source>%1 is plain HTTP: passwords and footage would cross the network unencrypted. Use the hub&apos;s https:// address, or allow plain HTTP for this hub in its profile if your administrator says so.</source>
        <translation>⁦%1⁩ يستخدم HTTP العادي: ستعبر كلمات المرور واللقطات الشبكة دون تشفير. استخدم عنوان ⁦https://⁩ الخاص بالمركز، أو اسمح بـ HTTP العادي لهذا المركز في ملف تعريفه إن أذن بذلك مسؤولك.</translation>
    </message>
    <message>
        <source>The hub&apos;s certificate at %1 could not be verified (%2). If your network uses its own certificate authority, set its CA bundle in the hub&apos;s profile.</source>
        <translation>تعذّر التحقق من شهادة المركز على العنوان ⁦%1⁩ (%2). إن كانت شبكتك تستخدم سلطة شهادات خاصة بها، فاضبط حزمة شهاداتها في ملف تعريف المركز.</translation>
    </message>
    <message>
        <source>The server at %1 did not answer in TLS (https): is its port one for plain http, or is a network login page in the way? Check the hub address.</source>
        <translation>لم يُجب الخادم على العنوان ⁦%1⁩ بـTLS ‏(https): هل منفذه لـhttp العادي، أم أن صفحة دخول إلى الشبكة تعترض الطريق؟ تحقّق من عنوان المركز.</translation>
    </message>
    <message>
        <source>The secure connection to the hub at %1 failed; check the network and the address.</source>
        <translation>فشل الاتصال الآمن بالمركز على العنوان ⁦%1⁩؛ تحقّق من الشبكة ومن العنوان.</translation>
    </message>
    <message>
        <source>The security certificate of the network&apos;s proxy (%1) could not be verified, so the hub at %2 was not reached. If your network uses its own certificate authority, add it to the system&apos;s certificate store, or set a CA bundle in the hub&apos;s profile that holds it and the hub&apos;s authority.</source>
        <translation>تعذّر التحقق من شهادة الأمان الخاصة بوكيل الشبكة (%1)، فلم يُتوصَّل إلى المركز على العنوان %2. إن كانت لشبكتك جهة تصديق خاصة بها فأضفها إلى مخزن شهادات النظام، أو حدّد في ملف تعريف المركز ملف شهادات (CA bundle) يحويها مع جهة تصديق المركز.</translation>
    </message>
    <message>
        <source>The security certificate of the network&apos;s proxy could not be verified, so the hub at %1 was not reached. If your network uses its own certificate authority, add it to the system&apos;s certificate store, or set a CA bundle in the hub&apos;s profile that holds it and the hub&apos;s authority.</source>
        <translation>تعذّر التحقق من شهادة الأمان الخاصة بوكيل الشبكة، فلم يُتوصَّل إلى المركز على العنوان %1. إن كانت لشبكتك جهة تصديق خاصة بها فأضفها إلى مخزن شهادات النظام، أو حدّد في ملف تعريف المركز ملف شهادات (CA bundle) يحويها مع جهة تصديق المركز.</translation>
    </message>
    <message>
        <source>The network&apos;s proxy (%1) wants a user name and password (HTTP 407) to reach the hub at %2. Give them with the profile&apos;s proxy (in the app&apos;s settings, or alu login --proxy http://user:password@proxy:3128; kept in the keyring) or in the system&apos;s proxy setting, or ask the network&apos;s administrator to let this computer through without one.</source>
        <translation>يطلب وكيل الشبكة (⁦%1⁩) اسم مستخدم وكلمة مرور (HTTP 407) للوصول إلى المركز على العنوان ⁦%2⁩. أدخلهما مع وكيل الملف الشخصي (في إعدادات التطبيق، أو ⁦alu login --proxy http://user:password@proxy:3128⁩؛ يُحفظان في سلسلة المفاتيح) أو في إعداد الوكيل في النظام، أو اطلب من مسؤول الشبكة السماح لهذا الحاسوب بالمرور دونهما.</translation>
    </message>
    <message>
        <source>The network&apos;s proxy wants a user name and password (HTTP 407) to reach the hub at %1. Give them with the profile&apos;s proxy (in the app&apos;s settings, or alu login --proxy http://user:password@proxy:3128; kept in the keyring) or in the system&apos;s proxy setting, or ask the network&apos;s administrator to let this computer through without one.</source>
        <translation>يطلب وكيل الشبكة اسم مستخدم وكلمة مرور (HTTP 407) للوصول إلى المركز على العنوان ⁦%1⁩. أدخلهما مع وكيل الملف الشخصي (في إعدادات التطبيق، أو ⁦alu login --proxy http://user:password@proxy:3128⁩؛ يُحفظان في سلسلة المفاتيح) أو في إعداد الوكيل في النظام، أو اطلب من مسؤول الشبكة السماح لهذا الحاسوب بالمرور دونهما.</translation>
    </message>
    <message>
        <source>The network&apos;s proxy (%1) did not accept the user name and password given for it (HTTP 407) to reach the hub at %2. Check them where they were given (the profile&apos;s proxy, in the app&apos;s settings or with alu login --proxy, or the system&apos;s proxy setting such as HTTPS_PROXY), or ask the network&apos;s administrator.</source>
        <translation>لم يقبل وكيل الشبكة (⁦%1⁩) اسم المستخدم وكلمة المرور المُدخلَين له (HTTP 407) للوصول إلى المركز على العنوان ⁦%2⁩. تحقّق منهما حيث أُدخلا (وكيل الملف الشخصي، في إعدادات التطبيق أو عبر ⁦alu login --proxy⁩، أو إعداد الوكيل في النظام مثل ⁦HTTPS_PROXY⁩)، أو اسأل مسؤول الشبكة.</translation>
    </message>
    <message>
        <source>The network&apos;s proxy did not accept the user name and password given for it (HTTP 407) to reach the hub at %1. Check them where they were given (the profile&apos;s proxy, in the app&apos;s settings or with alu login --proxy, or the system&apos;s proxy setting such as HTTPS_PROXY), or ask the network&apos;s administrator.</source>
        <translation>لم يقبل وكيل الشبكة اسم المستخدم وكلمة المرور المُدخلَين له (HTTP 407) للوصول إلى المركز على العنوان ⁦%1⁩. تحقّق منهما حيث أُدخلا (وكيل الملف الشخصي، في إعدادات التطبيق أو عبر ⁦alu login --proxy⁩، أو إعداد الوكيل في النظام مثل ⁦HTTPS_PROXY⁩)، أو اسأل مسؤول الشبكة.</translation>
    </message>
    <message>
        <source>The network&apos;s proxy (%1) refused the connection to %2 (HTTP %3); check the proxy settings, or ask the network&apos;s administrator to let this computer reach the hub.</source>
        <translation>رفض وكيل الشبكة (⁦%1⁩) الاتصال بـ ⁦%2⁩ (HTTP %3)؛ تحقّق من إعدادات الوكيل، أو اطلب من مسؤول الشبكة السماح لهذا الحاسوب بالوصول إلى المركز.</translation>
    </message>
    <message>
        <source>The network&apos;s proxy refused the connection to %1 (HTTP %2); check the proxy settings, or ask the network&apos;s administrator to let this computer reach the hub.</source>
        <translation>رفض وكيل الشبكة الاتصال بـ ⁦%1⁩ (HTTP %2)؛ تحقّق من إعدادات الوكيل، أو اطلب من مسؤول الشبكة السماح لهذا الحاسوب بالوصول إلى المركز.</translation>
    </message>
    <message>
        <source>The network&apos;s proxy (%1) could not reach the hub at %2 (HTTP %3); trying again later.</source>
        <translation>تعذّر على وكيل الشبكة (⁦%1⁩) الوصول إلى المركز على العنوان ⁦%2⁩ (HTTP %3)؛ ستُعاد المحاولة لاحقًا.</translation>
    </message>
    <message>
        <source>The network&apos;s proxy could not reach the hub at %1 (HTTP %2); trying again later.</source>
        <translation>تعذّر على وكيل الشبكة الوصول إلى المركز على العنوان ⁦%1⁩ (HTTP %2)؛ ستُعاد المحاولة لاحقًا.</translation>
    </message>
    <message>
        <source>The network&apos;s proxy (%1) refused to pass the request to the hub at %2 (HTTP %3); check the proxy settings, or ask the network&apos;s administrator to let this computer reach it.</source>
        <translation>رفض وكيل الشبكة (⁦%1⁩) تمرير الطلب إلى المركز على العنوان ⁦%2⁩ (HTTP %3)؛ تحقّق من إعدادات الوكيل، أو اطلب من مسؤول الشبكة السماح لهذا الحاسوب بالوصول إليه.</translation>
    </message>
    <message>
        <source>The network&apos;s proxy refused to pass the request to the hub at %1 (HTTP %2); check the proxy settings, or ask the network&apos;s administrator to let this computer reach it.</source>
        <translation>رفض وكيل الشبكة تمرير الطلب إلى المركز على العنوان ⁦%1⁩ (HTTP %2)؛ تحقّق من إعدادات الوكيل، أو اطلب من مسؤول الشبكة السماح لهذا الحاسوب بالوصول إليه.</translation>
    </message>
    <message>
        <source>The hub at %1 did not answer in time.</source>
        <translation>لم يُجب المركز على العنوان ⁦%1⁩ في الوقت المحدد.</translation>
    </message>
    <message>
        <source>The hub at %1 did not answer in time. Check the workstation&apos;s connection (or the proxy), then try again.</source>
        <translation>لم يُجب المركز على ⁨%1⁩ في الوقت المحدد. تحقّق من اتصال محطة العمل (أو من الوكيل)، ثم أعد المحاولة.</translation>
    </message>
    <message>
        <source>The hub at %1 stopped answering; reconnecting.</source>
        <translation>توقف المركز على ⁨%1⁩ عن الاستجابة؛ جارٍ إعادة الاتصال.</translation>
    </message>
    <message>
        <source>The server at %1 answered with something that is not HTTP a hub would send; check the hub address, or whether a proxy is in the way.</source>
        <translation>أجاب الخادم على العنوان ⁦%1⁩ بشيء ليس من HTTP الذي يرسله المركز؛ تحقّق من عنوان المركز، أو مما إذا كان وكيل يعترض الطريق.</translation>
    </message>
    <message>
        <source>The hub at %1 cannot be reached; check the network and the address.</source>
        <translation>يتعذّر الوصول إلى المركز على العنوان ⁦%1⁩؛ تحقّق من الشبكة ومن العنوان.</translation>
    </message>
    <message>
        <source>The hub at %1 cannot be reached (%2).</source>
        <translation>يتعذّر الوصول إلى المركز على العنوان ⁦%1⁩ (⁦%2⁩).</translation>
    </message>
    <message>
        <source>The hub at %1 answered with a redirect to %2; check the hub address.</source>
        <translation>أجاب المركز على العنوان ⁦%1⁩ بإعادة توجيه إلى ⁦%2⁩؛ تحقّق من عنوان المركز.</translation>
    </message>
    <message>
        <source>The hub at %1 answered with a redirect to elsewhere; check the hub address.</source>
        <translation>أجاب المركز على العنوان ⁦%1⁩ بإعادة توجيه إلى مكان آخر؛ تحقّق من عنوان المركز.</translation>
    </message>
    <message>
        <source>The hub refused the user name or password.</source>
        <translation>رفض المركز اسم المستخدم أو كلمة المرور.</translation>
    </message>
    <message>
        <source>Your session with the hub has ended; sign in again.</source>
        <translation>انتهت جلستك مع المركز؛ سجّل الدخول من جديد.</translation>
    </message>
    <message>
        <source>The hub does not allow this account to do that.</source>
        <translation>لا يسمح المركز لهذا الحساب بذلك.</translation>
    </message>
    <message>
        <source>The hub does not have that.</source>
        <translation>لا يملك المركز ما طُلب.</translation>
    </message>
    <message>
        <source>Too many failed sign-ins for this user or this network; try again in %1 minute(s).</source>
        <translation>محاولات دخول فاشلة كثيرة لهذا المستخدم أو لهذه الشبكة؛ أعد المحاولة بعد %1 دقيقة.</translation>
    </message>
    <message>
        <source>Too many failed sign-ins for this user or this network; try again later.</source>
        <translation>محاولات دخول فاشلة كثيرة لهذا المستخدم أو لهذه الشبكة؛ أعد المحاولة لاحقًا.</translation>
    </message>
    <message>
        <source>The hub at %1 is busy or failing (HTTP %2); trying again later.</source>
        <translation>المركز على العنوان ⁦%1⁩ مشغول أو متعطّل (HTTP %2)؛ ستُعاد المحاولة لاحقًا.</translation>
    </message>
    <message>
        <source>The hub at %1 is busy or failing (HTTP %2); try again later.</source>
        <translation>المركز على العنوان ⁦%1⁩ مشغول أو متعطّل (HTTP %2)؛ أعد المحاولة لاحقًا.</translation>
    </message>
    <message>
        <source>The server at %1 does not take this request (HTTP 501), as a hub would; check the hub address.</source>
        <translation>الخادم على العنوان ⁦%1⁩ لا يقبل هذا الطلب (HTTP 501) كما يقبله المركز؛ تحقّق من عنوان المركز.</translation>
    </message>
    <message>
        <source>The hub refused the request (HTTP %1).</source>
        <translation>رفض المركز الطلب (HTTP %1).</translation>
    </message>
    <message>
        <source>The hub&apos;s live feed answered with something else than events.</source>
        <translation>أجاب البث المباشر للمركز بشيء غير الأحداث.</translation>
    </message>
    <message>
        <source>The hub&apos;s live feed sent an oversized event.</source>
        <translation>أرسل البث المباشر للمركز حدثًا كبيرًا جدًا.</translation>
    </message>
    <message>
        <source>The hub&apos;s live feed was cut off.</source>
        <translation>انقطع البث المباشر للمركز.</translation>
    </message>
    <message>
        <source>The hub answered with something that is not ALU data.</source>
        <translation>أجاب المركز بشيء ليس بيانات ALU.</translation>
    </message>
    <message>
        <source>The hub at %1 answered with %2, not ALU data; a proxy or a wrong address may be in the way.</source>
        <translation>أجاب المركز على العنوان ⁦%1⁩ بـ ⁦%2⁩، لا ببيانات ALU؛ ربما يعترض الطريق وكيل أو عنوان خاطئ.</translation>
    </message>
    <message>
        <source>The hub at %1 answered with no content type, not ALU data; a proxy or a wrong address may be in the way.</source>
        <translation>أجاب المركز على العنوان ⁦%1⁩ دون نوع محتوى، لا ببيانات ALU؛ ربما يعترض الطريق وكيل أو عنوان خاطئ.</translation>
    </message>
    <message>
        <source>The hub at %1 sent an answer too large to be ALU data.</source>
        <translation>أرسل المركز على العنوان ⁦%1⁩ ردًا أكبر من أن يكون بيانات ALU.</translation>
    </message>
    <message>
        <source>The connection to the hub at %1 broke during an answer.</source>
        <translation>انقطع الاتصال بالمركز على العنوان ⁦%1⁩ أثناء رد.</translation>
    </message>
    <message>
        <source>The library has no %1 file of item %2.</source>
        <translation>لا تحتوي المكتبة على ملف ⁨%1⁩ للمادة ⁨%2⁩.</translation>
    </message>
    <message>
        <source>%1 was left in place: its record in the library is damaged; download it again, or delete the file yourself.</source>
        <translation>تُرك ⁨%1⁩ في مكانه: سجله في المكتبة تالف؛ نزّله من جديد، أو احذف الملف بنفسك.</translation>
    </message>
    <message>
        <source>%1 was not removed: it cannot be reached (%2).</source>
        <translation>لم يُحذف ⁨%1⁩: يتعذّر الوصول إليه (%2).</translation>
    </message>
    <message>
        <source>%1 was not removed: it could not be deleted (%2).</source>
        <translation>لم يُحذف ⁨%1⁩: تعذّر حذفه (%2).</translation>
    </message>
    <message>
        <source>%1 was left in place: its size changed from %2 to %3 bytes since it was downloaded, so it is not the file ALU Desk verified.</source>
        <translation>تُرك ⁨%1⁩ في مكانه: تغيّر حجمه من %2 إلى %3 بايت منذ تنزيله، فلم يعد الملف الذي تحقّق منه ALU Desk.</translation>
    </message>
    <message>
        <source>%1 was left in place: something else than the downloaded file is at its place, so it is not the file ALU Desk verified.</source>
        <translation>تُرك ⁨%1⁩ في مكانه: يوجد في مكانه شيء غير الملف المنزَّل، فليس هو الملف الذي تحقّق منه ALU Desk.</translation>
    </message>
    <message>
        <source>%1 was left in place: it was replaced or modified since it was downloaded (by another workstation sharing the folder, or by another program), so it is not the file ALU Desk verified.</source>
        <translation>تُرك ⁨%1⁩ في مكانه: فقد استُبدل أو عُدّل منذ تنزيله (من محطة عمل أخرى تشارك المجلد، أو من برنامج آخر)، فهو ليس الملف الذي تحقّق منه ALU Desk.</translation>
    </message>
    <message>
        <source>%1 could not be taken: %2.</source>
        <translation>تعذّر أخذ ⁨%1⁩: %2.</translation>
    </message>
    <message>
        <source>%1 cannot be read: %2.</source>
        <translation>تتعذّر قراءة ⁨%1⁩: %2.</translation>
    </message>
    <message>
        <source>%1 The hub would refuse it; it was not sent.</source>
        <translation>%1 سيرفضه المركز؛ لم يُرسَل.</translation>
    </message>
    <message>
        <source>Not uploaded again: the same content was already sent as %1.</source>
        <translation>لم يُرفع مرة أخرى: المحتوى نفسه أُرسل من قبل باسم ⁨%1⁩.</translation>
    </message>
    <message>
        <source>It could not be queued: %1</source>
        <translation>تعذّرت إضافته إلى قائمة الانتظار: %1</translation>
    </message>
    <message>
        <source>%1 changed after its upload started (was it still being copied?): the item published from it may be incomplete. The file as it is now is sent as a new upload.</source>
        <translation>تغيّر ⁨%1⁩ بعد بدء رفعه (هل كان لا يزال قيد النسخ؟): قد تكون المادة المنشورة منه ناقصة. يُرسَل الملف بحالته الآن كعملية رفع جديدة.</translation>
    </message>
    <message>
        <source>The sidecar %1 cannot be read: %2.</source>
        <translation>تتعذّر قراءة الملف المرافق ⁨%1⁩: %2.</translation>
    </message>
    <message>
        <source>The sidecar %1 is not UTF-8 text.</source>
        <translation>الملف المرافق ⁨%1⁩ ليس نصًا بترميز UTF-8.</translation>
    </message>
    <message>
        <source>The sidecar %1 is not valid JSON (%2). Fix it and %3 is taken again.</source>
        <translation>الملف المرافق ⁨%1⁩ ليس JSON صالحًا (%2). صحّحه وسيؤخذ ⁨%3⁩ من جديد.</translation>
    </message>
    <message>
        <source>The sidecar %1 must be a JSON object like {&quot;title&quot;: &quot;…&quot;}.</source>
        <translation>يجب أن يكون الملف المرافق ⁨%1⁩ كائن JSON مثل {&quot;title&quot;: &quot;…&quot;}.</translation>
    </message>
    <message>
        <source>In the sidecar %1, %2 must be text.</source>
        <translation>في الملف المرافق ⁨%1⁩، يجب أن يكون ⁨%2⁩ نصًا.</translation>
    </message>
    <message>
        <source>%1: %2 (from the sidecar %3)</source>
        <translation>⁨%1⁩: %2 (من الملف المرافق ⁨%3⁩)</translation>
    </message>
    <message>
        <source>%1: %2 (from the hot folder&apos;s defaults)</source>
        <translation>⁨%1⁩: %2 (من القيم الافتراضية للمجلد المراقَب)</translation>
    </message>
    <message>
        <source>%1: %2 (from the file name)</source>
        <translation>⁨%1⁩: %2 (من اسم الملف)</translation>
    </message>
    <message>
        <source>Sent without %1: it arrived after %2 was taken, and its fields were not used (the item went out with the folder&apos;s defaults and the file name); it is in the sent folder marked &quot;not used&quot;. Write the sidecar first, or give the folder a longer settle time.</source>
        <translation>أُرسل بدون ⁨%1⁩: وصل بعد أخذ ⁨%2⁩، ولم تُستخدم حقوله (خرجت المادة بالقيم الافتراضية للمجلد واسم الملف)؛ وهو في مجلد «sent» موسومًا «not used». اكتب الملف المرافق أولًا، أو امنح المجلد مهلة استقرار أطول.</translation>
    </message>
    <message>
        <source>%1 changed after it was moved to the sent folder (it was still being copied): the item published from it may be incomplete. It was put back in the hot folder, and is sent as a new upload once it has been still for the settle time.</source>
        <translation>تغيّر ⁨%1⁩ بعد نقله إلى مجلد «sent» (كان لا يزال قيد النسخ): قد تكون المادة المنشورة منه ناقصة. أُعيد إلى المجلد المراقَب، ويُرسَل كعملية رفع جديدة بعد أن يبقى دون تغيير طوال مهلة الاستقرار.</translation>
    </message>
    <message>
        <source>%1 changed after it was moved to the sent folder (it was still being copied): the item published from it may be incomplete. It was put back in the hot folder, and is sent as a new upload once it has been still for the settle time. Its sidecar %2 could not be moved back with it: the file waits for it, which is tried again at every scan.</source>
        <translation>تغيّر ⁨%1⁩ بعد نقله إلى مجلد «sent» (كان لا يزال قيد النسخ): قد تكون المادة المنشورة منه ناقصة. أُعيد إلى المجلد المراقَب، ويُرسَل كعملية رفع جديدة بعد أن يبقى دون تغيير طوال مهلة الاستقرار. تعذّرت إعادة ملفه المرافق ⁨%2⁩ معه: ينتظره الملف، وتُعاد المحاولة عند كل فحص للمجلد.</translation>
    </message>
    <message>
        <source>%1 is being sent by %2, another workstation watching this folder; it is not sent from here.</source>
        <translation>يُرسل ⁨%2⁩، وهو محطة عمل أخرى تراقب هذا المجلد، الملف ⁨%1⁩؛ لن يُرسَل من هنا.</translation>
    </message>
    <message>
        <source>%1 was taken over by %2, another workstation watching this folder, while this one was asleep or off the network: it is sent from there, and its upload here was canceled. Nothing needs to be done.</source>
        <translation>تولّى ⁨%2⁩، وهو محطة عمل أخرى تراقب هذا المجلد، إرسال ⁨%1⁩ بينما كانت هذه المحطة في وضع السكون أو خارج الشبكة: يُرسَل الملف من هناك، وأُلغي رفعه من هنا. لا حاجة إلى أي إجراء.</translation>
    </message>
    <message>
        <source>The hub refused it: %1</source>
        <translation>رفضه المركز: %1</translation>
    </message>
    <message>
        <source>The hub refused it: no reason given</source>
        <translation>رفضه المركز دون ذكر السبب</translation>
    </message>
    <message>
        <source>The upload was canceled.</source>
        <translation>أُلغيت عملية الرفع.</translation>
    </message>
    <message>
        <source>The upload failed.</source>
        <translation>فشلت عملية الرفع.</translation>
    </message>
    <message>
        <source>The upload was removed from the queue.</source>
        <translation>أُزيلت عملية الرفع من قائمة الانتظار.</translation>
    </message>
    <message>
        <source>The %1 is too long (%2 characters; at most %3).</source>
        <translation>الحقل ⁨%1⁩ طويل جدًا (%2 حرفًا؛ الحد الأقصى %3).</translation>
    </message>
    <message>
        <source>The %1 is too long (at most %2 characters).</source>
        <translation>الحقل ⁨%1⁩ طويل جدًا (الحد الأقصى %2 حرفًا).</translation>
    </message>
    <message>
        <source>A title is needed.</source>
        <translation>العنوان مطلوب.</translation>
    </message>
    <message>
        <source>The language must be English, French or Arabic.</source>
        <translation>يجب أن تكون اللغة الإنجليزية أو الفرنسية أو العربية.</translation>
    </message>
    <message>
        <source>The priority must be flash, urgent or routine.</source>
        <translation>يجب أن تكون الأولوية: عاجل جدًا أو عاجل أو عادي.</translation>
    </message>
    <message>
        <source>The country is a two-letter code, like KE or SN.</source>
        <translation>البلد رمز من حرفين، مثل KE أو SN.</translation>
    </message>
    <message>
        <source>The recording date is not a date (use 2026-11-22 or 2026-11-22T14:30).</source>
        <translation>تاريخ التسجيل ليس تاريخًا (استخدم 2026-11-22 أو 2026-11-22T14:30).</translation>
    </message>
    <message>
        <source>The recording date is in the future; check it (and the camera&apos;s clock).</source>
        <translation>تاريخ التسجيل في المستقبل؛ تحقّق منه (ومن ساعة الكاميرا).</translation>
    </message>
    <message>
        <source>The recording date is in the future (hub time %1 UTC); this computer&apos;s clock is %2 ahead of the hub&apos;s: check the date, and set the clock right in the system&apos;s date and time settings.</source>
        <translation>تاريخ التسجيل في المستقبل (وقت المركز %1 بالتوقيت العالمي)؛ ساعة هذا الحاسوب متقدمة على ساعة المركز بمقدار %2: تحقّق من التاريخ، واضبط الساعة في إعدادات التاريخ والوقت في النظام.</translation>
    </message>
    <message>
        <source>The recording date is in the future (hub time %1 UTC); this computer&apos;s clock is %2 behind the hub&apos;s: check the date, and set the clock right in the system&apos;s date and time settings.</source>
        <translation>تاريخ التسجيل في المستقبل (وقت المركز %1 بالتوقيت العالمي)؛ ساعة هذا الحاسوب متأخرة عن ساعة المركز بمقدار %2: تحقّق من التاريخ، واضبط الساعة في إعدادات التاريخ والوقت في النظام.</translation>
    </message>
    <message>
        <source>The recording date is before 1900.</source>
        <translation>تاريخ التسجيل قبل عام 1900.</translation>
    </message>
    <message>
        <source>The script, shot list and restrictions are too long together for the hub (%1 KiB once encoded; at most %2 KiB): shorten this text.</source>
        <translation>النص وقائمة اللقطات والقيود أطول معًا مما يقبله المركز (%1 كيلوبايت بعد الترميز؛ الحد الأقصى %2 كيلوبايت): اختصر هذا النص.</translation>
    </message>
    <message>
        <source>The hot folder %1 is not there (a drive unplugged, a share not mounted?): its files are taken once it is back.</source>
        <translation>المجلد المراقَب ⁨%1⁩ غير موجود (قرص مفصول، أو مشاركة غير موصولة؟): تؤخذ ملفاته بمجرد عودته.</translation>
    </message>
    <message>
        <source>The hot folder %1 cannot be read: %2.</source>
        <translation>تتعذّر قراءة المجلد المراقَب ⁨%1⁩: ⁨%2⁩.</translation>
    </message>
    <message>
        <source>The hot folder %1 is also where downloads are saved: every clip downloaded there would be published again. Nothing is taken from it; choose another folder for the one or the other.</source>
        <translation>المجلد المراقَب ⁨%1⁩ هو أيضًا المجلد الذي تُحفظ فيه التنزيلات: كل مقطع يُنزَّل فيه سيُنشر من جديد. لا يؤخذ منه شيء؛ اختر مجلدًا آخر لأحدهما.</translation>
    </message>
    <message>
        <source>Files sent cannot be moved to the sent folder %1: %2. They stay in the hot folder, and are moved once it can be written.</source>
        <translation>يتعذّر نقل الملفات المرسَلة إلى مجلد «sent» ⁨%1⁩: ⁨%2⁩. تبقى في المجلد المراقَب، وتُنقل بمجرد أن تصبح الكتابة فيه ممكنة.</translation>
    </message>
    <message>
        <source>%1 in the hot folder %2 is a link (a shortcut to a file elsewhere) or a special file: links are not followed, so it is not sent. Put the file itself in the folder.</source>
        <translation>⁨%1⁩ في المجلد المراقَب ⁨%2⁩ رابطٌ (اختصار إلى ملف في مكان آخر) أو ملف خاص: لا تُتَّبع الروابط، لذا لا يُرسَل. ضع الملف نفسه في المجلد.</translation>
    </message>
    <message>
        <source>The name of “%1” in %2 is not valid text: it holds bytes no character set here can read. Rename the file, then add it again.</source>
        <translation>اسم «⁨%1⁩» في ⁨%2⁩ ليس نصًا صالحًا: فيه بايتات لا تقرؤها أي مجموعة محارف هنا. أعد تسمية الملف، ثم أضفه من جديد.</translation>
    </message>
    <message>
        <source>%1 is not a folder, or cannot be reached.</source>
        <translation>⁨%1⁩ ليس مجلدًا، أو يتعذّر الوصول إليه.</translation>
    </message>
    <message>
        <source>%1 is already a hot folder.</source>
        <translation>⁨%1⁩ مجلد مراقَب بالفعل.</translation>
    </message>
    <message>
        <source>%1 is already a hot folder (for the hub profile %2).</source>
        <translation>⁨%1⁩ مجلد مراقَب بالفعل (لملف تعريف المركز ⁨%2⁩).</translation>
    </message>
    <message>
        <source>There is no hot folder #%1.</source>
        <translation>لا يوجد مجلد مراقَب رقم %1.</translation>
    </message>
    <message>
        <source>In the folder&apos;s defaults: %1</source>
        <translation>في القيم الافتراضية للمجلد: %1</translation>
    </message>
    <message>
        <source>The sent folder cannot be the hot folder itself.</source>
        <translation>لا يمكن أن يكون مجلد «sent» هو المجلد المراقَب نفسه.</translation>
    </message>
    <message>
        <source>The sent folder needs a name (like &apos;sent&apos;) or a full path.</source>
        <translation>يحتاج مجلد «sent» إلى اسم (مثل «sent») أو مسار كامل.</translation>
    </message>
    <message>
        <source>The settle time is between 0 seconds and a day.</source>
        <translation>مهلة الاستقرار بين 0 ثانية ويوم واحد.</translation>
    </message>
</context>
<context>
    <name>FeedPanel</name>
    <message>
        <source>broadcast</source>
        <translation>البث</translation>
    </message>
    <message>
        <source>proxy</source>
        <translation>المعاينة</translation>
    </message>
    <message>
        <source>“{title}” has no {rendition} file.</source>
        <translation>لا يوجد ملف {rendition} للمادة «{title}».</translation>
    </message>
    <message>
        <source>Could not download “{title}”: {error}</source>
        <translation>تعذّر تنزيل «{title}»: {error}</translation>
    </message>
    <message>
        <source>Something went wrong: {error}</source>
        <translation>حدث خطأ: {error}</translation>
    </message>
    <message>
        <source>Already downloaded: “{title}”</source>
        <translation>سبق تنزيلها: «{title}»</translation>
    </message>
    <message numerus="yes">
        <source>%Ln unread</source>
        <translation>
            <numerusform>لا مواد غير مقروءة</numerusform>
            <numerusform>مادة واحدة غير مقروءة</numerusform>
            <numerusform>مادتان غير مقروءتين</numerusform>
            <numerusform>%Ln مواد غير مقروءة</numerusform>
            <numerusform>%Ln مادة غير مقروءة</numerusform>
            <numerusform>%Ln مادة غير مقروءة</numerusform>
        </translation>
    </message>
    <message>
        <source>Select an item first.</source>
        <translation>اختر مادة أولًا.</translation>
    </message>
    <message>
        <source>“{title}” was withdrawn by the agency: it is not downloaded.</source>
        <translation>سحبت الوكالة المادة «{title}»: لن تُنزَّل.</translation>
    </message>
    <message numerus="yes">
        <source>Already downloaded: “{title}” and %Ln more</source>
        <translation>
            <numerusform>سبق تنزيلها: «{title}»</numerusform>
            <numerusform>سبق تنزيلها: «{title}» ومادة أخرى</numerusform>
            <numerusform>سبق تنزيلها: «{title}» ومادتان أخريان</numerusform>
            <numerusform>سبق تنزيلها: «{title}» و%Ln مواد أخرى</numerusform>
            <numerusform>سبق تنزيلها: «{title}» و%Ln مادة أخرى</numerusform>
            <numerusform>سبق تنزيلها: «{title}» و%Ln مادة أخرى</numerusform>
        </translation>
    </message>
    <message>
        <source>&amp;Download</source>
        <translation>&amp;تنزيل</translation>
    </message>
    <message>
        <source>Download the broadcast file of the selected items</source>
        <translation>تنزيل ملف البث للمواد المحددة</translation>
    </message>
    <message>
        <source>Download &amp;proxy</source>
        <translation>تنزيل م&amp;لف المعاينة</translation>
    </message>
    <message>
        <source>Download the small preview file of the selected items</source>
        <translation>تنزيل ملف المعاينة الصغير للمواد المحددة</translation>
    </message>
    <message>
        <source>Pre&amp;view</source>
        <translation>م&amp;عاينة</translation>
    </message>
    <message>
        <source>Play the downloaded file in the Library</source>
        <translation>تشغيل الملف المنزَّل في المكتبة</translation>
    </message>
    <message>
        <source>Mark all &amp;read</source>
        <translation>تعليم الكل &amp;مقروءًا</translation>
    </message>
    <message>
        <source>Mark as read every item the filters and the search show</source>
        <translation>تعليم كل المواد التي تعرضها عوامل التصفية والبحث كمقروءة</translation>
    </message>
    <message>
        <source>Feed commands</source>
        <translation>أوامر الموجز</translation>
    </message>
    <message>
        <source>Feed</source>
        <translation>الموجز</translation>
    </message>
    <message>
        <source>Items pushed to this newsroom, newest first</source>
        <translation>المواد المرسلة إلى غرفة الأخبار هذه، الأحدث أولًا</translation>
    </message>
</context>
<context>
    <name>FilterBar</name>
    <message>
        <source>All languages</source>
        <translation>كل اللغات</translation>
    </message>
    <message>
        <source>All categories</source>
        <translation>كل الأبواب</translation>
    </message>
    <message>
        <source>All regions</source>
        <translation>كل المناطق</translation>
    </message>
    <message>
        <source>&amp;Search:</source>
        <translation>&amp;بحث:</translation>
    </message>
    <message>
        <source>Words in title, slug, dateline, script…</source>
        <translation>كلمات من العنوان أو الرمز أو المكان أو النص…</translation>
    </message>
    <message>
        <source>Search items</source>
        <translation>البحث في المواد</translation>
    </message>
    <message>
        <source>Language</source>
        <translation>اللغة</translation>
    </message>
    <message>
        <source>Category</source>
        <translation>الباب</translation>
    </message>
    <message>
        <source>Region</source>
        <translation>المنطقة</translation>
    </message>
    <message>
        <source>Priority</source>
        <translation>الأولوية</translation>
    </message>
    <message>
        <source>Published</source>
        <translation>النشر</translation>
    </message>
    <message>
        <source>Find</source>
        <translation>بحث</translation>
    </message>
    <message>
        <source>All priorities</source>
        <translation>كل الأولويات</translation>
    </message>
    <message>
        <source>Any date</source>
        <translation>أي تاريخ</translation>
    </message>
    <message>
        <source>Today</source>
        <translation>اليوم</translation>
    </message>
    <message numerus="yes">
        <source>Last %Ln hours</source>
        <translation>
            <numerusform>آخر %Ln ساعة</numerusform>
            <numerusform>آخر ساعة</numerusform>
            <numerusform>آخر ساعتين</numerusform>
            <numerusform>آخر %Ln ساعات</numerusform>
            <numerusform>آخر %Ln ساعة</numerusform>
            <numerusform>آخر %Ln ساعة</numerusform>
        </translation>
    </message>
    <message numerus="yes">
        <source>Last %Ln days</source>
        <translation>
            <numerusform>آخر %Ln يوم</numerusform>
            <numerusform>آخر يوم</numerusform>
            <numerusform>آخر يومين</numerusform>
            <numerusform>آخر %Ln أيام</numerusform>
            <numerusform>آخر %Ln يومًا</numerusform>
            <numerusform>آخر %Ln يوم</numerusform>
        </translation>
    </message>
</context>
<context>
    <name>Formats</name>
    <message>
        <source> · </source>
        <extracomment>between the parts of a one-line summary: &quot;clip.mp4 · 4 s long · 640×360 · h264&quot;, &quot;Online · 2 active&quot;. Spaces included. Arabic: not the middle dot, which looks like the zero ٠ there (e.g. &quot;، &quot; or &quot; | &quot;).</extracomment>
        <translation>، </translation>
    </message>
    <message>
        <source>{name} (proxy)</source>
        <translation>{name} (المعاينة)</translation>
    </message>
    <message>
        <source>{name} ({rendition})</source>
        <translation>{name} ({rendition})</translation>
    </message>
    <message>
        <source>{value} B</source>
        <translation>{value} بايت</translation>
    </message>
    <message>
        <source>{value} kB</source>
        <translation>{value} كيلوبايت</translation>
    </message>
    <message>
        <source>{value} MB</source>
        <translation>{value} ميغابايت</translation>
    </message>
    <message>
        <source>{value} GB</source>
        <translation>{value} غيغابايت</translation>
    </message>
    <message>
        <source>{value} TB</source>
        <translation>{value} تيرابايت</translation>
    </message>
    <message>
        <source>{value} Gbit/s</source>
        <translation>{value} غيغابت/ث</translation>
    </message>
    <message>
        <source>{value} Mbit/s</source>
        <translation>{value} ميغابت/ث</translation>
    </message>
    <message>
        <source>{value} kbit/s</source>
        <translation>{value} كيلوبت/ث</translation>
    </message>
    <message>
        <source>{value} bit/s</source>
        <translation>{value} بت/ث</translation>
    </message>
    <message>
        <source>{s} s</source>
        <translation>{s} ث</translation>
    </message>
    <message>
        <source>{m} min {s} s</source>
        <translation>{m} د {s} ث</translation>
    </message>
    <message>
        <source>{m} min</source>
        <translation>{m} د</translation>
    </message>
    <message>
        <source>{h} h {m} min</source>
        <translation>{h} س {m} د</translation>
    </message>
    <message>
        <source>{d} d {h} h</source>
        <translation>{d} ي {h} س</translation>
    </message>
    <message>
        <source>{percent}%</source>
        <translation>{percent}٪</translation>
    </message>
</context>
<context>
    <name>GeneralPage</name>
    <message>
        <source>Same as the system</source>
        <translation>مثل النظام</translation>
    </message>
    <message>
        <source>&amp;Language:</source>
        <translation>&amp;اللغة:</translation>
    </message>
    <message>
        <source>Language</source>
        <translation>اللغة</translation>
    </message>
    <message>
        <source>Closing the window keeps transfers running (tray)</source>
        <translation>إغلاق النافذة يُبقي عمليات النقل جارية (في شريط المهام)</translation>
    </message>
    <message>
        <source>Start ALU Desk when I log in</source>
        <translation>تشغيل ALU Desk عند تسجيل الدخول</translation>
    </message>
    <message>
        <source>Notify me of flash and urgent pushes and of finished transfers</source>
        <translation>إعلامي بالمواد «عاجل جدًا» و«عاجل» وبعمليات النقل المكتملة</translation>
    </message>
    <message>
        <source>ALU Desk is running from its disk image or from a temporary copy, which is gone after a restart. Move ALU Desk to Applications first, then turn on Start ALU Desk when I log in.</source>
        <translation>يعمل ALU Desk من صورة القرص الخاصة به أو من نسخة مؤقتة تختفي بعد إعادة التشغيل. انقل ALU Desk إلى مجلد «التطبيقات» (Applications) أولًا، ثم فعّل «تشغيل ALU Desk عند تسجيل الدخول».</translation>
    </message>
    <message>
        <source>The login entry could not be written: {why}</source>
        <translation>تعذّرت كتابة إعداد التشغيل عند الدخول: {why}</translation>
    </message>
</context>
<context>
    <name>HistoryModel</name>
    <message>
        <source>When</source>
        <translation>الوقت</translation>
    </message>
    <message>
        <source>What</source>
        <translation>الحدث</translation>
    </message>
    <message>
        <source>Item</source>
        <translation>المادة</translation>
    </message>
    <message>
        <source>Size</source>
        <translation>الحجم</translation>
    </message>
    <message>
        <source>Speed</source>
        <translation>السرعة</translation>
    </message>
    <message>
        <source>Time taken</source>
        <translation>المدة</translation>
    </message>
    <message>
        <source>Workstation</source>
        <translation>محطة العمل</translation>
    </message>
    <message>
        <source>Rule</source>
        <translation>القاعدة</translation>
    </message>
    <message>
        <source>Sent to hub</source>
        <translation>الإرسال إلى المركز</translation>
    </message>
    <message>
        <source>Download completed</source>
        <translation>اكتمل التنزيل</translation>
    </message>
    <message>
        <source>Download failed</source>
        <translation>فشل التنزيل</translation>
    </message>
    <message>
        <source>Download canceled</source>
        <translation>أُلغي التنزيل</translation>
    </message>
    <message>
        <source>Download canceled: withdrawn by the agency</source>
        <translation>أُلغي التنزيل: سحبت الوكالة المادة</translation>
    </message>
    <message>
        <source>Upload completed</source>
        <translation>اكتمل الرفع</translation>
    </message>
    <message>
        <source>Upload failed</source>
        <translation>فشل الرفع</translation>
    </message>
    <message>
        <source>Upload canceled</source>
        <translation>أُلغي الرفع</translation>
    </message>
    <message>
        <source>This workstation</source>
        <translation>محطة العمل هذه</translation>
    </message>
    <message>
        <source>Waiting to be sent</source>
        <translation>بانتظار الإرسال</translation>
    </message>
    <message>
        <source>Sent</source>
        <translation>أُرسل</translation>
    </message>
    <message>
        <source>Refused by the hub</source>
        <translation>رفضه المركز</translation>
    </message>
    <message>
        <source>Not sent: another hub now</source>
        <translation>لم يُرسل: المركز الآن مركز آخر</translation>
    </message>
    <message>
        <source>From the hub</source>
        <translation>وارد من المركز</translation>
    </message>
    <message>
        <source>{rule} (rule removed)</source>
        <translation>{rule} (قاعدة محذوفة)</translation>
    </message>
    <message>
        <source>Recorded for the hub that was at this address before. The hub there now is another one, which never had the item: this event stays on this workstation.</source>
        <translation>سُجّل للمركز الذي كان في هذا العنوان من قبل. المركز الموجود فيه الآن مركز آخر لم تكن لديه هذه المادة قط: يبقى هذا الحدث على محطة العمل هذه.</translation>
    </message>
</context>
<context>
    <name>HistoryPanel</name>
    <message>
        <source>&amp;Refresh</source>
        <translation>&amp;تحديث</translation>
    </message>
    <message>
        <source>Read the history again (F5)</source>
        <translation>إعادة قراءة السجل (F5)</translation>
    </message>
    <message>
        <source>&amp;Sync now</source>
        <translation>&amp;مزامنة الآن</translation>
    </message>
    <message>
        <source>Send this workstation&apos;s history to the hub and fetch the others&apos;</source>
        <translation>إرسال سجل محطة العمل هذه إلى المركز وجلب سجلات المحطات الأخرى</translation>
    </message>
    <message>
        <source>History commands</source>
        <translation>أوامر السجل</translation>
    </message>
    <message>
        <source>History</source>
        <translation>السجل</translation>
    </message>
    <message>
        <source>Downloads and uploads that ended, the newest first</source>
        <translation>عمليات التنزيل والرفع المنتهية، الأحدث أولاً</translation>
    </message>
    <message numerus="yes">
        <source>%Ln events waiting to be sent to the hub</source>
        <translation>
            <numerusform>لا أحداث بانتظار الإرسال إلى المركز</numerusform>
            <numerusform>حدث واحد بانتظار الإرسال إلى المركز</numerusform>
            <numerusform>حدثان بانتظار الإرسال إلى المركز</numerusform>
            <numerusform>%Ln أحداث بانتظار الإرسال إلى المركز</numerusform>
            <numerusform>%Ln حدثًا بانتظار الإرسال إلى المركز</numerusform>
            <numerusform>%Ln حدث بانتظار الإرسال إلى المركز</numerusform>
        </translation>
    </message>
    <message>
        <source>Everything has been sent to the hub</source>
        <translation>أُرسل كل شيء إلى المركز</translation>
    </message>
    <message>
        <source>Could not read the history: {error}</source>
        <translation>تعذّرت قراءة السجل: {error}</translation>
    </message>
    <message>
        <source>Syncing the history with the hub…</source>
        <translation>جارٍ مزامنة السجل مع المركز…</translation>
    </message>
    <message>
        <source>History synced: {sent} sent, {received} new from other workstations.</source>
        <translation>تمت مزامنة السجل — المُرسَلة: {sent}، والجديدة من محطات أخرى: {received}.</translation>
    </message>
    <message>
        <source>The hub cannot be reached just now; the history will be sent when it can.</source>
        <translation>يتعذّر الوصول إلى المركز حالياً؛ سيُرسَل السجل حين يصبح ذلك ممكناً.</translation>
    </message>
    <message>
        <source>Sign in to the hub again to sync the history.</source>
        <translation>سجّل الدخول إلى المركز مجدداً لمزامنة السجل.</translation>
    </message>
    <message>
        <source>Could not sync the history: {error}</source>
        <translation>تعذّرت مزامنة السجل: {error}</translation>
    </message>
</context>
<context>
    <name>HotFolderDialog</name>
    <message>
        <source>New hot folder</source>
        <translation>مجلد مراقَب جديد</translation>
    </message>
    <message>
        <source>Folder to watch</source>
        <translation>المجلد المراد مراقبته</translation>
    </message>
    <message>
        <source>Choose the folder to watch</source>
        <translation>اختيار المجلد المراد مراقبته</translation>
    </message>
    <message>
        <source>Default language</source>
        <translation>اللغة الافتراضية</translation>
    </message>
    <message>
        <source>Not set (English)</source>
        <translation>غير محددة (الإنجليزية)</translation>
    </message>
    <message>
        <source>English</source>
        <translation>الإنجليزية</translation>
    </message>
    <message>
        <source>French</source>
        <translation>الفرنسية</translation>
    </message>
    <message>
        <source>Arabic</source>
        <translation>العربية</translation>
    </message>
    <message>
        <source>Default category</source>
        <translation>التصنيف الافتراضي</translation>
    </message>
    <message>
        <source>Default country (two letters)</source>
        <translation>البلد الافتراضي (حرفان)</translation>
    </message>
    <message>
        <source>e.g. KE</source>
        <translation>مثلاً KE</translation>
    </message>
    <message>
        <source>Default priority</source>
        <translation>الأولوية الافتراضية</translation>
    </message>
    <message>
        <source>Not set (routine)</source>
        <translation>غير محددة (عادي)</translation>
    </message>
    <message>
        <source>&amp;Folder:</source>
        <translation>ال&amp;مجلد:</translation>
    </message>
    <message>
        <source>Defaults for its files (a sidecar .json may say otherwise):</source>
        <translation>القيم الافتراضية لملفاته (يمكن لملف ‎.json‎ مرافق أن يغيّرها):</translation>
    </message>
    <message>
        <source>&amp;Language:</source>
        <translation>الل&amp;غة:</translation>
    </message>
    <message>
        <source>&amp;Category:</source>
        <translation>الت&amp;صنيف:</translation>
    </message>
    <message>
        <source>C&amp;ountry:</source>
        <translation>ال&amp;بلد:</translation>
    </message>
    <message>
        <source>&amp;Priority:</source>
        <translation>الأ&amp;ولوية:</translation>
    </message>
    <message>
        <source>Choose the folder to watch.</source>
        <translation>اختر المجلد المراد مراقبته.</translation>
    </message>
    <message>
        <source>This folder is already a hot folder.</source>
        <translation>هذا المجلد مراقَب بالفعل.</translation>
    </message>
    <message>
        <source>The country is a two-letter code, like KE or SN.</source>
        <translation>البلد رمز من حرفين، مثل KE أو SN.</translation>
    </message>
    <message>
        <source>The category is too long.</source>
        <translation>التصنيف طويل جداً.</translation>
    </message>
</context>
<context>
    <name>HotFoldersModel</name>
    <message>
        <source>Folder</source>
        <translation>المجلد</translation>
    </message>
    <message>
        <source>On</source>
        <translation>مفعّل</translation>
    </message>
    <message>
        <source>Sent</source>
        <translation>المُرسلة</translation>
    </message>
    <message>
        <source>Errors</source>
        <translation>الأخطاء</translation>
    </message>
    <message>
        <source>Defaults</source>
        <translation>القيم الافتراضية</translation>
    </message>
    <message>
        <source>Watched</source>
        <translation>مراقَب</translation>
    </message>
    <message>
        <source>Not watched</source>
        <translation>غير مراقَب</translation>
    </message>
</context>
<context>
    <name>HotFoldersPage</name>
    <message>
        <source>A file put in a hot folder is uploaded once it is complete, then moved to its “sent” folder.</source>
        <translation>يُرفع الملف الموضوع في مجلد مراقَب بعد اكتماله، ثم يُنقل إلى مجلد «sent» التابع له.</translation>
    </message>
    <message>
        <source>Sign in to a hub to watch folders for uploads.</source>
        <translation>سجّل الدخول إلى مركز لمراقبة مجلدات الرفع.</translation>
    </message>
    <message>
        <source>Hot folders</source>
        <translation>المجلدات المراقَبة</translation>
    </message>
    <message>
        <source>Files not sent</source>
        <translation>الملفات غير المُرسلة</translation>
    </message>
    <message>
        <source>Files of this folder that were &amp;not sent:</source>
        <translation>ملفات هذا المجلد التي &amp;لم تُرسل:</translation>
    </message>
    <message>
        <source>Files sent by another workstation</source>
        <translation>ملفات ترسلها محطة عمل أخرى</translation>
    </message>
    <message>
        <source>Files of this folder another &amp;workstation is sending (nothing to do):</source>
        <translation>ملفات هذا المجلد التي ترسلها &amp;محطة عمل أخرى (لا شيء للقيام به):</translation>
    </message>
    <message>
        <source>&amp;Add folder…</source>
        <translation>إ&amp;ضافة مجلد…</translation>
    </message>
    <message>
        <source>&amp;Remove</source>
        <translation>إ&amp;زالة</translation>
    </message>
    <message>
        <source>Re&amp;try</source>
        <translation>إعادة الم&amp;حاولة</translation>
    </message>
    <message>
        <source>Take this file again at the next scan (at once)</source>
        <translation>إعادة أخذ هذا الملف في الفحص التالي (فوراً)</translation>
    </message>
</context>
<context>
    <name>ItemDetail</name>
    <message>
        <source>Withdrawn by the agency — do not use</source>
        <translation>سحبتها الوكالة — لا تستخدمها</translation>
    </message>
    <message>
        <source>Withdrawn {date}: {reason}</source>
        <translation>سُحبت في {date}: {reason}</translation>
    </message>
    <message>
        <source>Corrected {date}: {note}</source>
        <translation>صُحّحت في {date}: {note}</translation>
    </message>
    <message>
        <source>None</source>
        <translation>لا يوجد</translation>
    </message>
    <message>
        <source>Broadcast</source>
        <translation>البث</translation>
    </message>
    <message>
        <source>Proxy</source>
        <translation>المعاينة</translation>
    </message>
    <message>
        <source>on this workstation</source>
        <translation>على هذا الجهاز</translation>
    </message>
    <message>
        <source>file missing</source>
        <translation>الملف مفقود</translation>
    </message>
    <message>
        <source>file changed</source>
        <extracomment>a file still on the disk, but not the one downloaded and verified</extracomment>
        <translation>تغيّر الملف</translation>
    </message>
    <message>
        <source>{rendition}: {details}</source>
        <extracomment>a rendition and what is known of it: &quot;Broadcast: 160 kB, 640×360&quot;</extracomment>
        <translation>{rendition}: {details}</translation>
    </message>
    <message>
        <source>, </source>
        <extracomment>between the details of a rendition: &quot;160 kB, 640×360, on this workstation&quot;</extracomment>
        <translation>، </translation>
    </message>
    <message>
        <source>{name} — {what}: {reason}</source>
        <extracomment>a file the library records missing, and why: &quot;001.mp4 — file changed: its size changed from 147,653 to 73,826 bytes since it was verified&quot;</extracomment>
        <translation>⁨{name}⁩ — {what}: {reason}</translation>
    </message>
    <message>
        <source>{name} — {what}</source>
        <translation>⁨{name}⁩ — {what}</translation>
    </message>
    <message>
        <source>{name} seems damaged: it could not be played. Download again (Ctrl+D) checks it and, if it is damaged, replaces it with a verified copy.</source>
        <translation>يبدو أن ⁨{name}⁩ تالف: تعذّر تشغيله. «إعادة التنزيل» (Ctrl+D) تفحصه، وإن كان تالفًا تستبدله بنسخة متحقَّق منها.</translation>
    </message>
    <message>
        <source>{name} is the file that was downloaded and verified (its checksum matches), but it cannot be played here: Open file opens it with this workstation&apos;s own player.</source>
        <translation>⁨{name}⁩ هو الملف الذي نُزِّل وتُحقِّق منه (مجموع التحقق مطابق)، لكن لا يمكن تشغيله هنا: «فتح الملف» يفتحه بمشغّل هذا الحاسوب.</translation>
    </message>
    <message>
        <source>{name} could not be examined: {reason} It may be damaged: Download again (Ctrl+D) checks it and, if it is, replaces it with a verified copy.</source>
        <translation>تعذّر فحص ⁨{name}⁩: {reason} قد يكون تالفًا: «إعادة التنزيل» (Ctrl+D) تفحصه، وإن كان تالفًا تستبدله بنسخة متحقَّق منها.</translation>
    </message>
    <message>
        <source>{name} — not examined yet</source>
        <translation>{name} — لم يُفحص بعد</translation>
    </message>
    <message>
        <source>{fps} fps</source>
        <translation>{fps} إطار/ث</translation>
    </message>
    <message numerus="yes">
        <source>%Ln channels</source>
        <extracomment>the audio channels of a file: &quot;1 channel&quot;, &quot;2 channels&quot;</extracomment>
        <translation>
            <numerusform>%Ln قناة</numerusform>
            <numerusform>قناة واحدة</numerusform>
            <numerusform>قناتان</numerusform>
            <numerusform>%Ln قنوات</numerusform>
            <numerusform>%Ln قناة</numerusform>
            <numerusform>%Ln قناة</numerusform>
        </translation>
    </message>
    <message>
        <source>{rate} Hz</source>
        <extracomment>an audio sampling rate: &quot;48,000 Hz&quot;</extracomment>
        <translation>{rate} هرتز</translation>
    </message>
    <message>
        <source>Video: {video}</source>
        <translation>الفيديو: {video}</translation>
    </message>
    <message>
        <source>none</source>
        <translation>لا يوجد</translation>
    </message>
    <message>
        <source>Audio: {audio}</source>
        <translation>الصوت: {audio}</translation>
    </message>
    <message>
        <source>Length: {length}</source>
        <translation>المدة: {length}</translation>
    </message>
    <message>
        <source>Size: {size}</source>
        <translation>الحجم: {size}</translation>
    </message>
    <message>
        <source>Sent by:</source>
        <extracomment>who sent the item: &quot;Sent by: The agency&quot;, &quot;Sent by: You (Kenya TV)&quot;</extracomment>
        <translation>المرسل:</translation>
    </message>
    <message>
        <source>Slug:</source>
        <translation>الرمز:</translation>
    </message>
    <message>
        <source>Dateline:</source>
        <translation>المكان والتاريخ:</translation>
    </message>
    <message>
        <source>Published:</source>
        <translation>تاريخ النشر:</translation>
    </message>
    <message>
        <source>Recorded:</source>
        <translation>تاريخ التصوير:</translation>
    </message>
    <message>
        <source>Language:</source>
        <translation>اللغة:</translation>
    </message>
    <message>
        <source>Category:</source>
        <translation>الباب:</translation>
    </message>
    <message>
        <source>Region:</source>
        <translation>المنطقة:</translation>
    </message>
    <message>
        <source>Country:</source>
        <translation>البلد:</translation>
    </message>
    <message>
        <source>Priority:</source>
        <translation>الأولوية:</translation>
    </message>
    <message>
        <source>Restrictions:</source>
        <translation>القيود:</translation>
    </message>
    <message>
        <source>Renditions:</source>
        <translation>النسخ:</translation>
    </message>
    <message>
        <source>Local file:</source>
        <translation>الملف المحلي:</translation>
    </message>
    <message>
        <source>Script</source>
        <translation>النص</translation>
    </message>
    <message>
        <source>Shotlist</source>
        <translation>قائمة اللقطات</translation>
    </message>
    <message>
        <source>Select an item to see its details.</source>
        <translation>اختر مادة لعرض تفاصيلها.</translation>
    </message>
    <message>
        <source>Delete its files on this workstation…</source>
        <translation>احذف ملفاتها من هذا الجهاز…</translation>
    </message>
    <message>
        <source>Deletes the files of this withdrawn item from this workstation (asked first).</source>
        <translation>يحذف ملفات هذه المادة المسحوبة من هذا الجهاز (بعد التأكيد).</translation>
    </message>
    <message>
        <source>Item details</source>
        <translation>تفاصيل المادة</translation>
    </message>
    <message>
        <source>The agency</source>
        <extracomment>after &quot;Sent by:&quot;, an item the agency pushed</extracomment>
        <translation>الوكالة</translation>
    </message>
    <message>
        <source>You ({member})</source>
        <extracomment>after &quot;Sent by:&quot;, an item this member uploaded itself: &quot;You (Kenya TV)&quot;</extracomment>
        <translation>أنت ({member})</translation>
    </message>
    <message>
        <source>A member</source>
        <extracomment>after &quot;Sent by:&quot;, a member&apos;s upload whose member the hub did not name</extracomment>
        <translation>عضو</translation>
    </message>
</context>
<context>
    <name>ItemNoticeBoard</name>
    <message>
        <source>Corrected by the agency: usage restrictions of “%1” changed.</source>
        <translation>صحّحتها الوكالة: تغيّرت قيود استخدام «%1».</translation>
    </message>
    <message numerus="yes">
        <source>Corrected by the agency: usage restrictions of %Ln items changed.</source>
        <translation>
            <numerusform>صحّحت الوكالة: لم تتغيّر قيود أي مادة.</numerusform>
            <numerusform>صحّحت الوكالة: تغيّرت قيود استخدام مادة واحدة.</numerusform>
            <numerusform>صحّحت الوكالة: تغيّرت قيود استخدام مادتين.</numerusform>
            <numerusform>صحّحت الوكالة: تغيّرت قيود استخدام %Ln مواد.</numerusform>
            <numerusform>صحّحت الوكالة: تغيّرت قيود استخدام %Ln مادةً.</numerusform>
            <numerusform>صحّحت الوكالة: تغيّرت قيود استخدام %Ln مادة.</numerusform>
        </translation>
    </message>
    <message>
        <source>⚠ Withdrawn: “%1”</source>
        <translation>⚠ مسحوبة: «%1»</translation>
    </message>
    <message numerus="yes">
        <source>⚠ %Ln items withdrawn</source>
        <translation>
            <numerusform>⚠ لا مواد مسحوبة</numerusform>
            <numerusform>⚠ مادة واحدة مسحوبة</numerusform>
            <numerusform>⚠ مادتان مسحوبتان</numerusform>
            <numerusform>⚠ %Ln مواد مسحوبة</numerusform>
            <numerusform>⚠ %Ln مادةً مسحوبة</numerusform>
            <numerusform>⚠ %Ln مادة مسحوبة</numerusform>
        </translation>
    </message>
    <message>
        <source>Withdrawn by the agency — do not use:</source>
        <translation>سحبتها الوكالة — لا تستخدمها:</translation>
    </message>
    <message>
        <source>{title}: {reason}</source>
        <translation>{title}: {reason}</translation>
    </message>
    <message numerus="yes">
        <source>and %Ln more</source>
        <translation>
            <numerusform>ولا غيرها</numerusform>
            <numerusform>ومادة أخرى</numerusform>
            <numerusform>ومادتان أخريان</numerusform>
            <numerusform>و%Ln مواد أخرى</numerusform>
            <numerusform>و%Ln مادةً أخرى</numerusform>
            <numerusform>و%Ln مادة أخرى</numerusform>
        </translation>
    </message>
    <message>
        <source>Click to open the Library.</source>
        <translation>انقر لفتح المكتبة.</translation>
    </message>
</context>
<context>
    <name>ItemsModel</name>
    <message>
        <source>Agency</source>
        <extracomment>the Sent by column of an item the agency pushed</extracomment>
        <translation>الوكالة</translation>
    </message>
    <message>
        <source>You</source>
        <extracomment>the Sent by column of an item this member uploaded itself</extracomment>
        <translation>أنت</translation>
    </message>
    <message>
        <source>Member</source>
        <extracomment>the Sent by column of a member&apos;s upload whose member the hub did not name</extracomment>
        <translation>عضو</translation>
    </message>
    <message>
        <source>just now</source>
        <translation>الآن</translation>
    </message>
    <message>
        <source>{n} min ago</source>
        <translation>منذ {n} د</translation>
    </message>
    <message>
        <source>{n} h ago</source>
        <translation>منذ {n} س</translation>
    </message>
    <message>
        <source>Sent by: {sender}</source>
        <extracomment>the tooltip of the Sent by column: &quot;Sent by: You (Kenya TV)&quot;</extracomment>
        <translation>المرسل: {sender}</translation>
    </message>
    <message>
        <source>{rendition} file {name}: {reason}</source>
        <extracomment>why a file of an item is not usable: &quot;Broadcast file 001.mp4: its size changed from 147,653 to 73,826 bytes since it was verified&quot;</extracomment>
        <translation>ملف {rendition} ⁨{name}⁩: {reason}</translation>
    </message>
    <message>
        <source>Only the low-resolution proxy is on this workstation.</source>
        <translation>لا توجد على هذا الحاسوب إلا نسخة المعاينة منخفضة الدقة.</translation>
    </message>
    <message>
        <source>Could not read the library: {error}</source>
        <translation>تعذّرت قراءة المكتبة: {error}</translation>
    </message>
    <message>
        <source>Title</source>
        <translation>العنوان</translation>
    </message>
    <message>
        <source>Slug</source>
        <translation>الرمز</translation>
    </message>
    <message>
        <source>Dateline</source>
        <translation>المكان</translation>
    </message>
    <message>
        <source>Sent by</source>
        <extracomment>the column saying who sent an item: the agency, a member, or you</extracomment>
        <translation>المرسل</translation>
    </message>
    <message>
        <source>Language</source>
        <translation>اللغة</translation>
    </message>
    <message>
        <source>Duration</source>
        <translation>المدة</translation>
    </message>
    <message>
        <source>Priority</source>
        <translation>الأولوية</translation>
    </message>
    <message>
        <source>Published</source>
        <translation>النشر</translation>
    </message>
    <message>
        <source>State</source>
        <translation>الحالة</translation>
    </message>
    <message>
        <source>Picture</source>
        <translation>الصورة</translation>
    </message>
    <message>
        <source>Withdrawn — do not use</source>
        <translation>مسحوبة — لا تستخدمها</translation>
    </message>
    <message>
        <source>Withdrawn by the agency — do not use</source>
        <translation>سحبتها الوكالة — لا تستخدمها</translation>
    </message>
    <message>
        <source>Withdrawn</source>
        <translation>مسحوبة</translation>
    </message>
    <message>
        <source>Withdrawn {date}: {reason}</source>
        <translation>سُحبت في {date}: {reason}</translation>
    </message>
    <message>
        <source>Corrected</source>
        <translation>مصحَّحة</translation>
    </message>
    <message>
        <source>{state}, corrected</source>
        <translation>{state}، مصحَّحة</translation>
    </message>
    <message>
        <source>Corrected {date}: {note}</source>
        <translation>صُحّحت في {date}: {note}</translation>
    </message>
    <message>
        <source>Flash</source>
        <translation>عاجل جدًا</translation>
    </message>
    <message>
        <source>Urgent</source>
        <translation>عاجل</translation>
    </message>
    <message>
        <source>Routine</source>
        <translation>عادي</translation>
    </message>
    <message>
        <source>New</source>
        <translation>جديدة</translation>
    </message>
    <message>
        <source>Queued</source>
        <translation>في الانتظار</translation>
    </message>
    <message>
        <source>Paused</source>
        <translation>متوقفة مؤقتًا</translation>
    </message>
    <message>
        <source>Failed</source>
        <translation>فشل التنزيل</translation>
    </message>
    <message>
        <source>Downloaded</source>
        <translation>منزَّلة</translation>
    </message>
    <message>
        <source>Proxy only</source>
        <extracomment>an item of which only the low-resolution proxy file is on this workstation</extracomment>
        <translation>المعاينة فقط</translation>
    </message>
    <message>
        <source>Broadcast</source>
        <extracomment>the kinds of file of an item, in &quot;Broadcast file 001.mp4: …&quot;</extracomment>
        <translation>البث</translation>
    </message>
    <message>
        <source>Proxy</source>
        <translation>المعاينة</translation>
    </message>
    <message>
        <source>Missing</source>
        <translation>مفقودة</translation>
    </message>
</context>
<context>
    <name>Languages</name>
    <message>
        <source>English</source>
        <translation>الإنجليزية</translation>
    </message>
    <message>
        <source>French</source>
        <translation>الفرنسية</translation>
    </message>
    <message>
        <source>Arabic</source>
        <translation>العربية</translation>
    </message>
    <message>
        <source>Portuguese</source>
        <translation>البرتغالية</translation>
    </message>
    <message>
        <source>Swahili</source>
        <translation>السواحيلية</translation>
    </message>
</context>
<context>
    <name>LibraryFileReason</name>
    <message>
        <source>the file is not there any more (moved or deleted outside ALU Desk)</source>
        <translation>لم يعد الملف موجودًا (نُقل أو حُذف خارج ALU Desk)</translation>
    </message>
    <message>
        <source>its folder is not there any more</source>
        <translation>لم يعد مجلده موجودًا</translation>
    </message>
    <message>
        <source>its folder cannot be read (permission denied)</source>
        <translation>تتعذّر قراءة مجلده (الإذن مرفوض)</translation>
    </message>
    <message>
        <source>it cannot be reached (%1)</source>
        <translation>يتعذّر الوصول إليه (%1)</translation>
    </message>
    <message>
        <source>something else than a file is at its place</source>
        <translation>يوجد في مكانه شيء آخر غير ملف</translation>
    </message>
    <message>
        <source>its size changed from %1 to %2 bytes since it was verified</source>
        <translation>تغيّر حجمه من %1 إلى %2 بايت منذ التحقق منه</translation>
    </message>
    <message>
        <source>it was replaced or modified since it was downloaded (by another workstation sharing the folder, or by another program)</source>
        <translation>استُبدل أو عُدِّل منذ تنزيله (من حاسوب آخر يشارك المجلد، أو من برنامج آخر)</translation>
    </message>
    <message>
        <source>its content is not the one verified (its checksum differs): the file is damaged</source>
        <translation>محتواه ليس المحتوى الذي تُحقِّق منه (مجموع التحقق مختلف): الملف تالف</translation>
    </message>
    <message>
        <source>its record in the library is damaged; download it again</source>
        <translation>سجلّه في المكتبة تالف؛ نزّله من جديد</translation>
    </message>
    <message>
        <source>something else than the downloaded file is at its place</source>
        <translation>يوجد في مكانه شيء غير الملف المُنزَّل</translation>
    </message>
    <message>
        <source>its size changed from %1 to %2 bytes since it was downloaded</source>
        <translation>تغيّر حجمه من %1 إلى %2 بايت منذ تنزيله</translation>
    </message>
</context>
<context>
    <name>LibraryPanel</name>
    <message>
        <source>Copy to folder</source>
        <translation>نسخ إلى مجلد</translation>
    </message>
    <message>
        <source>Copy here</source>
        <translation>النسخ هنا</translation>
    </message>
    <message>
        <source>Could not copy to {folder}: {error}</source>
        <translation>تعذّر النسخ إلى {folder}: {error}</translation>
    </message>
    <message numerus="yes">
        <source>%Ln files are the low-resolution proxy, their broadcast file not being on this workstation: {names}</source>
        <translation>
            <numerusform>لا ملفات هي نسخة معاينة منخفضة الدقة: {names}</numerusform>
            <numerusform>ملف واحد هو نسخة المعاينة منخفضة الدقة، إذ ليس ملف البث على هذا الحاسوب: {names}</numerusform>
            <numerusform>ملفان هما نسخة المعاينة منخفضة الدقة، إذ ليس ملفا البث على هذا الحاسوب: {names}</numerusform>
            <numerusform>%Ln ملفات هي نسخ المعاينة منخفضة الدقة، إذ ليست ملفات البث على هذا الحاسوب: {names}</numerusform>
            <numerusform>%Ln ملفًا هي نسخ المعاينة منخفضة الدقة، إذ ليست ملفات البث على هذا الحاسوب: {names}</numerusform>
            <numerusform>%Ln ملف هي نسخ المعاينة منخفضة الدقة، إذ ليست ملفات البث على هذا الحاسوب: {names}</numerusform>
        </translation>
    </message>
    <message>
        <source>Copy stopped: nothing was copied to {folder}</source>
        <translation>توقف النسخ: لم يُنسخ شيء إلى {folder}</translation>
    </message>
    <message>
        <source>Delete local files</source>
        <translation>حذف الملفات المحلية</translation>
    </message>
    <message>
        <source>Delete the local file of “{title}”?</source>
        <translation>حذف الملف المحلي للمادة «{title}»؟</translation>
    </message>
    <message numerus="yes">
        <source>Copied %Ln files to {folder}</source>
        <translation>
            <numerusform>لم يُنسخ أي ملف إلى {folder}</numerusform>
            <numerusform>تم نسخ ملف واحد إلى {folder}</numerusform>
            <numerusform>تم نسخ ملفين إلى {folder}</numerusform>
            <numerusform>تم نسخ %Ln ملفات إلى {folder}</numerusform>
            <numerusform>تم نسخ %Ln ملفًا إلى {folder}</numerusform>
            <numerusform>تم نسخ %Ln ملف إلى {folder}</numerusform>
        </translation>
    </message>
    <message>
        <source>Select an item first.</source>
        <translation>اختر مادة أولًا.</translation>
    </message>
    <message>
        <source>The folder {folder} is not there any more.</source>
        <translation>لم يعد المجلد ⁨{folder}⁩ موجودًا.</translation>
    </message>
    <message>
        <source>No application of this workstation opened {name}.</source>
        <translation>لم يفتح أي تطبيق على هذا الحاسوب ⁨{name}⁩.</translation>
    </message>
    <message numerus="yes">
        <source>Copied %Ln of {total} files to {folder}; not copied: {failed}</source>
        <translation>
            <numerusform>لم يُنسخ أي ملف من أصل {total} إلى {folder}؛ لم يُنسخ: {failed}</numerusform>
            <numerusform>تم نسخ ملف واحد من أصل {total} إلى {folder}؛ لم يُنسخ: {failed}</numerusform>
            <numerusform>تم نسخ ملفين من أصل {total} إلى {folder}؛ لم يُنسخ: {failed}</numerusform>
            <numerusform>تم نسخ %Ln ملفات من أصل {total} إلى {folder}؛ لم يُنسخ: {failed}</numerusform>
            <numerusform>تم نسخ %Ln ملفًا من أصل {total} إلى {folder}؛ لم يُنسخ: {failed}</numerusform>
            <numerusform>تم نسخ %Ln ملف من أصل {total} إلى {folder}؛ لم يُنسخ: {failed}</numerusform>
        </translation>
    </message>
    <message numerus="yes">
        <source>Copy stopped: %Ln of {total} files copied to {folder}</source>
        <translation>
            <numerusform>توقف النسخ: لم يُنسخ أي ملف من أصل {total} إلى {folder}</numerusform>
            <numerusform>توقف النسخ: تم نسخ ملف واحد من أصل {total} إلى {folder}</numerusform>
            <numerusform>توقف النسخ: تم نسخ ملفين من أصل {total} إلى {folder}</numerusform>
            <numerusform>توقف النسخ: تم نسخ %Ln ملفات من أصل {total} إلى {folder}</numerusform>
            <numerusform>توقف النسخ: تم نسخ %Ln ملفًا من أصل {total} إلى {folder}</numerusform>
            <numerusform>توقف النسخ: تم نسخ %Ln ملف من أصل {total} إلى {folder}</numerusform>
        </translation>
    </message>
    <message numerus="yes">
        <source>Delete the local files of %Ln items?</source>
        <translation>
            <numerusform>حذف الملفات المحلية لـ %Ln مادة؟</numerusform>
            <numerusform>حذف الملف المحلي لمادة واحدة؟</numerusform>
            <numerusform>حذف الملفات المحلية لمادتين؟</numerusform>
            <numerusform>حذف الملفات المحلية لـ %Ln مواد؟</numerusform>
            <numerusform>حذف الملفات المحلية لـ %Ln مادة؟</numerusform>
            <numerusform>حذف الملفات المحلية لـ %Ln مادة؟</numerusform>
        </translation>
    </message>
    <message numerus="yes">
        <source>The %Ln items stay in the Feed and can be downloaded again there.</source>
        <translation>
            <numerusform>لا مواد.</numerusform>
            <numerusform>تبقى المادة في الموجز ويمكن تنزيلها منه من جديد.</numerusform>
            <numerusform>تبقى المادتان في الموجز ويمكن تنزيلهما منه من جديد.</numerusform>
            <numerusform>تبقى هذه المواد (%Ln) في الموجز ويمكن تنزيلها منه من جديد.</numerusform>
            <numerusform>تبقى هذه المواد (%Ln) في الموجز ويمكن تنزيلها منه من جديد.</numerusform>
            <numerusform>تبقى هذه المواد (%Ln) في الموجز ويمكن تنزيلها منه من جديد.</numerusform>
        </translation>
    </message>
    <message>
        <source>Delete file</source>
        <translation>حذف الملف</translation>
    </message>
    <message>
        <source>Keep</source>
        <translation>الإبقاء</translation>
    </message>
    <message>
        <source>Could not download “{title}”: {error}</source>
        <translation>تعذّر تنزيل «{title}»: {error}</translation>
    </message>
    <message>
        <source>“{title}”: {name} was damaged (its checksum differs); it was deleted and a verified copy is being downloaded in its place.</source>
        <translation>«{title}»: كان ⁨{name}⁩ تالفًا (مجموع التحقق مختلف)؛ حُذف ويجري تنزيل نسخة متحقَّق منها مكانه.</translation>
    </message>
    <message>
        <source>“{title}”: {name} is the file that was downloaded and verified (its checksum matches); it was not downloaded again. Open file opens it with this workstation&apos;s own player.</source>
        <translation>«⁨{title}⁩»: ⁨{name}⁩ هو الملف الذي نُزِّل وتُحقِّق منه (مجموع التحقق مطابق)؛ لم يُنزَّل من جديد. «فتح الملف» يفتحه بمشغّل هذا الحاسوب.</translation>
    </message>
    <message>
        <source>Some files were not deleted: {reasons}</source>
        <translation>لم تُحذف بعض الملفات: {reasons}</translation>
    </message>
    <message>
        <source>Something went wrong: {error}</source>
        <translation>حدث خطأ: {error}</translation>
    </message>
    <message>
        <source>&amp;Grid</source>
        <translation>&amp;شبكة</translation>
    </message>
    <message>
        <source>Show thumbnails</source>
        <translation>عرض الصور المصغّرة</translation>
    </message>
    <message>
        <source>&amp;List</source>
        <translation>&amp;قائمة</translation>
    </message>
    <message>
        <source>Show a table</source>
        <translation>عرض جدول</translation>
    </message>
    <message>
        <source>Show in &amp;folder</source>
        <translation>الإظهار في الم&amp;جلد</translation>
    </message>
    <message>
        <source>Open the folder that holds the file, with the file selected</source>
        <translation>فتح المجلد الذي يحتوي الملف، مع تحديد الملف</translation>
    </message>
    <message>
        <source>Download again the files of the selected items that are missing or damaged (a file that cannot be played is checked first)</source>
        <translation>إعادة تنزيل ملفات المواد المحددة المفقودة أو التالفة (يُفحص أولًا الملف الذي يتعذّر تشغيله)</translation>
    </message>
    <message>
        <source>&amp;Open file</source>
        <translation>&amp;فتح الملف</translation>
    </message>
    <message>
        <source>Open the file with this workstation&apos;s own player or editor</source>
        <translation>فتح الملف بمشغّل هذا الحاسوب أو محرّره</translation>
    </message>
    <message>
        <source>&amp;Copy to…</source>
        <translation>&amp;نسخ إلى…</translation>
    </message>
    <message>
        <source>Copy the selected files to another folder</source>
        <translation>نسخ الملفات المحددة إلى مجلد آخر</translation>
    </message>
    <message>
        <source>&amp;Delete local file</source>
        <translation>&amp;حذف الملف المحلي</translation>
    </message>
    <message>
        <source>Delete the file from this workstation; the item stays in the library</source>
        <translation>حذف الملف من هذا الجهاز؛ تبقى المادة في المكتبة</translation>
    </message>
    <message>
        <source>Download &amp;again</source>
        <translation>&amp;إعادة التنزيل</translation>
    </message>
    <message>
        <source>Stop copying</source>
        <translation>إيقاف النسخ</translation>
    </message>
    <message>
        <source>Copy progress</source>
        <translation>تقدّم النسخ</translation>
    </message>
    <message>
        <source>Library commands</source>
        <translation>أوامر المكتبة</translation>
    </message>
    <message>
        <source>Library thumbnails</source>
        <translation>الصور المصغّرة في المكتبة</translation>
    </message>
    <message>
        <source>Library list</source>
        <translation>قائمة المكتبة</translation>
    </message>
</context>
<context>
    <name>MainWindow</name>
    <message>
        <source>Add files to upload</source>
        <translation>إضافة ملفات للرفع</translation>
    </message>
    <message>
        <source>Video files (*.mp4 *.mov *.mxf *.mkv *.avi *.m4v *.ts);;All files (*)</source>
        <translation>ملفات الفيديو (*.mp4 *.mov *.mxf *.mkv *.avi *.m4v *.ts);;كل الملفات (*)</translation>
    </message>
    <message>
        <source>Checking the hub for new items…</source>
        <translation>جارٍ البحث عن مواد جديدة في المركز…</translation>
    </message>
    <message>
        <source>Sign out</source>
        <translation>تسجيل الخروج</translation>
    </message>
    <message>
        <source>Sign out of %1? Transfers stop until you sign in again; the library and the queue stay on this workstation.</source>
        <translation>تسجيل الخروج من %1؟ تتوقف عمليات النقل حتى تسجّل الدخول مجددًا؛ وتبقى المكتبة وقائمة الانتظار على محطة العمل هذه.</translation>
    </message>
    <message>
        <source>About ALU Desk</source>
        <translation>حول ALU Desk</translation>
    </message>
    <message>
        <source>&lt;h3&gt;ALU Desk %1&lt;/h3&gt;&lt;p&gt;News video between the Africa Link Union agency and its member broadcasters: the feed, resumable transfers, the library and the history.&lt;/p&gt;</source>
        <translation>&lt;h3&gt;ALU Desk %1&lt;/h3&gt;&lt;p&gt;الفيديو الإخباري بين وكالة اتحاد أفريقيا لينك والهيئات الإذاعية الأعضاء: الموجز، وعمليات النقل القابلة للاستئناف، والمكتبة، والسجل.&lt;/p&gt;</translation>
    </message>
    <message>
        <source>Sign &amp;out</source>
        <translation>تسجيل ال&amp;خروج</translation>
    </message>
    <message>
        <source>&amp;Stay signed in</source>
        <translation>ال&amp;بقاء متصلًا</translation>
    </message>
    <message>
        <source>ALU Desk %1 is available (this workstation has %2). Ask your administrator or the agency for the installer.</source>
        <translation>الإصدار %1 من ALU Desk متاح (على محطة العمل هذه الإصدار %2). اطلب برنامج التثبيت من المسؤول أو من الوكالة.</translation>
    </message>
    <message>
        <source>ALU Desk %1 is the current version.</source>
        <translation>ALU Desk %1 هو الإصدار الحالي.</translation>
    </message>
    <message>
        <source>Check for updates</source>
        <translation>البحث عن تحديثات</translation>
    </message>
    <message>
        <source>Could not ask the hub for the current version: %1</source>
        <translation>تعذّر سؤال المركز عن الإصدار الحالي: %1</translation>
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
        <translation>%1 (عرض تجريبي)</translation>
    </message>
    <message>
        <source>Main sections</source>
        <translation>الأقسام الرئيسية</translation>
    </message>
    <message>
        <source>Feed</source>
        <translation>الموجز</translation>
    </message>
    <message>
        <source>Feed (%1)</source>
        <translation>الموجز (%1)</translation>
    </message>
    <message numerus="yes">
        <source>Library (⚠ %Ln withdrawn)</source>
        <translation>
            <numerusform>المكتبة (⚠ لا مسحوبات)</numerusform>
            <numerusform>المكتبة (⚠ مادة مسحوبة)</numerusform>
            <numerusform>المكتبة (⚠ مادتان مسحوبتان)</numerusform>
            <numerusform>المكتبة (⚠ %Ln مواد مسحوبة)</numerusform>
            <numerusform>المكتبة (⚠ %Ln مادةً مسحوبة)</numerusform>
            <numerusform>المكتبة (⚠ %Ln مادة مسحوبة)</numerusform>
        </translation>
    </message>
    <message>
        <source>Transfers</source>
        <translation>عمليات النقل</translation>
    </message>
    <message>
        <source>Library</source>
        <translation>المكتبة</translation>
    </message>
    <message>
        <source>History</source>
        <translation>السجل</translation>
    </message>
    <message>
        <source>Rule “%1” cannot download</source>
        <translation>تتعذّر على القاعدة «%1» التنزيل</translation>
    </message>
    <message>
        <source>%1; its items wait and are downloaded once the folder can be written.</source>
        <translation>%1؛ تنتظر موادها وستُنزَّل حين تصبح الكتابة في المجلد ممكنة.</translation>
    </message>
    <message>
        <source>ALU Desk is still running</source>
        <translation>ما زال ALU Desk يعمل</translation>
    </message>
    <message>
        <source>Transfers go on. Quit from the tray icon&apos;s menu.</source>
        <translation>تستمر عمليات النقل. للإنهاء استخدم قائمة الأيقونة في منطقة الإشعارات.</translation>
    </message>
</context>
<context>
    <name>MediaProblem</name>
    <message>
        <source>{name} was not found.</source>
        <translation>تعذّر العثور على {name}.</translation>
    </message>
    <message>
        <source>{name} could not be opened ({reason}).</source>
        <translation>تعذّر فتح {name} ({reason}).</translation>
    </message>
    <message>
        <source>{name} is a folder, not a video file.</source>
        <translation>{name} مجلد وليس ملف فيديو.</translation>
    </message>
    <message>
        <source>{name} is empty (0 bytes).</source>
        <translation>{name} فارغ (حجمه صفر).</translation>
    </message>
    <message>
        <source>{name} is not a video file we can read ({reason}).</source>
        <translation>{name} ليس ملف فيديو يمكن قراءته ({reason}).</translation>
    </message>
    <message>
        <source>{name} has no picture or sound in it.</source>
        <translation>لا يحتوي {name} على صورة ولا صوت.</translation>
    </message>
    <message>
        <source>{name} is a still picture, not a video file.</source>
        <translation>{name} صورة ثابتة، لا ملف فيديو.</translation>
    </message>
    <message>
        <source>{name} has sound but no picture: it is not a video file.</source>
        <translation>{name} فيه صوت بلا صورة: ليس ملف فيديو.</translation>
    </message>
    <message>
        <source>{name} is incomplete: it stops before the end of its video (was the copy cut short?).</source>
        <translation>{name} غير مكتمل: يتوقف قبل نهاية الفيديو (هل انقطع النسخ قبل اكتماله؟).</translation>
    </message>
    <message>
        <source>{name} could not be decoded ({reason}).</source>
        <translation>تعذّر فك ترميز {name} ({reason}).</translation>
    </message>
    <message>
        <source>{name} has no picture to make a thumbnail from.</source>
        <translation>لا يحتوي {name} على صورة لصنع صورة مصغّرة منها.</translation>
    </message>
    <message>
        <source>the picture could not be encoded as JPEG.</source>
        <translation>تعذّر ترميز الصورة بصيغة JPEG.</translation>
    </message>
</context>
<context>
    <name>NetworkPage</name>
    <message>
        <source>&amp;Proxy:</source>
        <translation>&amp;الوكيل:</translation>
    </message>
    <message>
        <source>none (e.g. http://proxy.newsroom.local:3128)</source>
        <translation>لا يوجد (مثلاً http://proxy.newsroom.local:3128)</translation>
    </message>
    <message>
        <source>Proxy address</source>
        <translation>عنوان الوكيل</translation>
    </message>
    <message>
        <source>Proxy user na&amp;me:</source>
        <translation>اسم م&amp;ستخدم الوكيل:</translation>
    </message>
    <message>
        <source>only if the proxy asks for one</source>
        <translation>فقط إن طلبه الوكيل</translation>
    </message>
    <message>
        <source>Proxy user name</source>
        <translation>اسم مستخدم الوكيل</translation>
    </message>
    <message>
        <source>Proxy pass&amp;word:</source>
        <translation>كلمة م&amp;رور الوكيل:</translation>
    </message>
    <message>
        <source>Proxy password</source>
        <translation>كلمة مرور الوكيل</translation>
    </message>
    <message>
        <source>&amp;CA bundle:</source>
        <translation>&amp;شهادات الجهات:</translation>
    </message>
    <message>
        <source>the system&apos;s certificates</source>
        <translation>شهادات النظام</translation>
    </message>
    <message>
        <source>CA bundle file</source>
        <translation>ملف شهادات الجهات</translation>
    </message>
    <message>
        <source>Choose the CA bundle file</source>
        <translation>اختيار ملف شهادات الجهات</translation>
    </message>
    <message>
        <source>Certificates (*.pem *.crt *.cer);;All files (*)</source>
        <translation>الشهادات (*.pem *.crt *.cer);;كل الملفات (*)</translation>
    </message>
    <message>
        <source>Allow plain HTTP (no encryption)</source>
        <translation>السماح بـ HTTP العادي (دون تشفير)</translation>
    </message>
    <message>
        <source>Warning: over plain HTTP your password, your session and every file travel unencrypted; anyone on the network path can read or change them. Use it only for a hub on your own local network.</source>
        <translation>تحذير: عبر HTTP العادي تنتقل كلمة المرور والجلسة وكل ملف دون تشفير، ويستطيع أي شخص على مسار الشبكة قراءتها أو تغييرها. لا تستخدمه إلا لمركز على شبكتك المحلية.</translation>
    </message>
    <message>
        <source>Changes to the network settings take effect the next time ALU Desk starts.</source>
        <translation>تسري تغييرات إعدادات الشبكة عند التشغيل التالي لـ ALU Desk.</translation>
    </message>
    <message>
        <source>For the hub profile {name}</source>
        <translation>لملف المركز {name}</translation>
    </message>
    <message>
        <source>Sign in to a hub to set how it is reached.</source>
        <translation>سجّل الدخول إلى مركز لضبط طريقة الوصول إليه.</translation>
    </message>
    <message>
        <source>kept in the keyring (type a new one to change it)</source>
        <translation>محفوظة في سلسلة المفاتيح (اكتب كلمة جديدة لتغييرها)</translation>
    </message>
    <message>
        <source>Give the proxy&apos;s address alone here, and its user name and password in the fields below: they are kept in the system keyring, not with the profile.</source>
        <translation>أدخل هنا عنوان الوكيل وحده، واسم المستخدم وكلمة المرور في الحقلين أدناه: يُحفظان في سلسلة مفاتيح النظام لا مع الملف الشخصي.</translation>
    </message>
    <message>
        <source>“{text}” is not a proxy address; write it like http://proxy.newsroom.local:3128.</source>
        <translation>«{text}» ليس عنوان وكيل؛ اكتبه مثل http://proxy.newsroom.local:3128.</translation>
    </message>
    <message>
        <source>The proxy&apos;s user name and password could not be kept: {why}</source>
        <translation>تعذّر حفظ اسم مستخدم الوكيل وكلمة مروره: {why}</translation>
    </message>
    <message>
        <source>There is no file at this path.</source>
        <translation>لا يوجد ملف في هذا المسار.</translation>
    </message>
    <message>
        <source>This file holds no certificate ALU Desk can read; a CA bundle is a PEM file (text starting with -----BEGIN CERTIFICATE-----).</source>
        <translation>لا يحتوي هذا الملف على شهادة يستطيع ALU Desk قراءتها؛ ملف شهادات الجهات بصيغة PEM (نص يبدأ بـ -----BEGIN CERTIFICATE-----).</translation>
    </message>
</context>
<context>
    <name>OsError</name>
    <message>
        <source>Permission denied</source>
        <translation>تم رفض الإذن</translation>
    </message>
    <message>
        <source>Operation not permitted</source>
        <translation>العملية غير مسموح بها</translation>
    </message>
    <message>
        <source>No such file or directory</source>
        <translation>لا يوجد ملف أو مجلد بهذا الاسم</translation>
    </message>
    <message>
        <source>No space left on device</source>
        <translation>لم تبقَ مساحة على القرص</translation>
    </message>
    <message>
        <source>Read-only file system</source>
        <translation>نظام الملفات للقراءة فقط</translation>
    </message>
    <message>
        <source>File exists</source>
        <translation>الملف موجود بالفعل</translation>
    </message>
    <message>
        <source>Not a directory</source>
        <translation>ليس مجلدًا</translation>
    </message>
    <message>
        <source>Is a directory</source>
        <translation>هذا مجلد</translation>
    </message>
    <message>
        <source>File name too long</source>
        <translation>اسم الملف طويل جدًا</translation>
    </message>
    <message>
        <source>Input/output error</source>
        <translation>خطأ في الإدخال/الإخراج</translation>
    </message>
    <message>
        <source>Device or resource busy</source>
        <translation>الجهاز أو المورد مشغول</translation>
    </message>
    <message>
        <source>Resource busy</source>
        <translation>المورد مشغول</translation>
    </message>
    <message>
        <source>Disk quota exceeded</source>
        <translation>تم تجاوز حصة القرص</translation>
    </message>
    <message>
        <source>Disc quota exceeded</source>
        <translation>تم تجاوز حصة القرص</translation>
    </message>
    <message>
        <source>Too many open files</source>
        <translation>عدد الملفات المفتوحة كبير جدًا</translation>
    </message>
    <message>
        <source>Directory not empty</source>
        <translation>المجلد ليس فارغًا</translation>
    </message>
    <message>
        <source>Invalid argument</source>
        <translation>وسيط غير صالح</translation>
    </message>
    <message>
        <source>Stale file handle</source>
        <translation>مقبض ملف منتهي الصلاحية (مشاركة شبكة)</translation>
    </message>
    <message>
        <source>Too many levels of symbolic links</source>
        <translation>مستويات كثيرة جدًا من الروابط الرمزية</translation>
    </message>
    <message>
        <source>Access is denied</source>
        <translation>تم رفض الوصول</translation>
    </message>
    <message>
        <source>The system cannot find the file specified</source>
        <translation>تعذّر على النظام العثور على الملف المحدد</translation>
    </message>
    <message>
        <source>The system cannot find the path specified</source>
        <translation>تعذّر على النظام العثور على المسار المحدد</translation>
    </message>
    <message>
        <source>There is not enough space on the disk</source>
        <translation>لا توجد مساحة كافية على القرص</translation>
    </message>
    <message>
        <source>The process cannot access the file because it is being used by another process</source>
        <translation>لا يمكن الوصول إلى الملف لأن برنامجًا آخر يستخدمه</translation>
    </message>
    <message>
        <source>The filename, directory name, or volume label syntax is incorrect</source>
        <translation>صيغة اسم الملف أو المجلد أو وحدة التخزين غير صحيحة</translation>
    </message>
    <message>
        <source>The media is write protected</source>
        <translation>الوسائط محمية ضد الكتابة</translation>
    </message>
    <message>
        <source>The network path was not found</source>
        <translation>لم يتم العثور على مسار الشبكة</translation>
    </message>
</context>
<context>
    <name>PathField</name>
    <message>
        <source>Browse…</source>
        <translation>استعراض…</translation>
    </message>
    <message>
        <source>Choose</source>
        <translation>اختيار</translation>
    </message>
</context>
<context>
    <name>PlayerWidget</name>
    <message>
        <source>This file is no longer on the disk; it may have been moved or deleted.</source>
        <translation>لم يعد هذا الملف موجودًا على القرص؛ ربما نُقل أو حُذف.</translation>
    </message>
    <message>
        <source>This file cannot be played here; it is still in the library.</source>
        <translation>لا يمكن تشغيل هذا الملف هنا؛ لكنه لا يزال في المكتبة.</translation>
    </message>
    <message>
        <source>Pause</source>
        <translation>إيقاف مؤقت</translation>
    </message>
    <message>
        <source>Play</source>
        <translation>تشغيل</translation>
    </message>
    <message>
        <source>Pause (Space)</source>
        <translation>إيقاف مؤقت (مسافة)</translation>
    </message>
    <message>
        <source>Play (Space)</source>
        <translation>تشغيل (مسافة)</translation>
    </message>
    <message>
        <source>Broadcast</source>
        <translation>البث</translation>
    </message>
    <message>
        <source>Playing the broadcast file {name}</source>
        <extracomment>the tooltip of the player&apos;s &quot;Broadcast&quot; label: the file it plays</extracomment>
        <translation>يُشغَّل ملف البث ⁨{name}⁩</translation>
    </message>
    <message>
        <source>Proxy</source>
        <translation>المعاينة</translation>
    </message>
    <message>
        <source>Playing the proxy file {name}</source>
        <extracomment>the tooltip of the player&apos;s &quot;Proxy&quot; label: the small preview file it plays</extracomment>
        <translation>يُشغَّل ملف المعاينة ⁨{name}⁩</translation>
    </message>
    <message>
        <source>Playing the file {name}</source>
        <translation>يُشغَّل الملف ⁨{name}⁩</translation>
    </message>
    <message>
        <source>Previous frame</source>
        <translation>الإطار السابق</translation>
    </message>
    <message>
        <source>Previous frame (,)</source>
        <translation>الإطار السابق (,)</translation>
    </message>
    <message>
        <source>Next frame</source>
        <translation>الإطار التالي</translation>
    </message>
    <message>
        <source>Next frame (.)</source>
        <translation>الإطار التالي (.)</translation>
    </message>
    <message>
        <source>Mute</source>
        <translation>كتم الصوت</translation>
    </message>
    <message>
        <source>Sound on or off (M)</source>
        <translation>تشغيل الصوت أو كتمه (M)</translation>
    </message>
    <message>
        <source>Full screen</source>
        <translation>ملء الشاشة</translation>
    </message>
    <message>
        <source>Leave full screen (Esc)</source>
        <translation>الخروج من ملء الشاشة (Esc)</translation>
    </message>
    <message>
        <source>Full screen (F)</source>
        <translation>ملء الشاشة (F)</translation>
    </message>
    <message>
        <source>Position in the clip</source>
        <translation>الموضع في المقطع</translation>
    </message>
    <message>
        <source>Time played</source>
        <translation>الوقت المنقضي</translation>
    </message>
    <message>
        <source>Length of the clip</source>
        <translation>مدة المقطع</translation>
    </message>
    <message>
        <source>Volume</source>
        <translation>مستوى الصوت</translation>
    </message>
    <message>
        <source>Volume (no sound device found)</source>
        <translation>مستوى الصوت (لم يُعثر على جهاز صوت)</translation>
    </message>
    <message>
        <source>Picture</source>
        <translation>الصورة</translation>
    </message>
    <message>
        <source>Player</source>
        <translation>المشغّل</translation>
    </message>
</context>
<context>
    <name>QGnomeTheme</name>
    <message>
        <source>&amp;Cancel</source>
        <translation>&amp;إلغاء</translation>
    </message>
</context>
<context>
    <name>QPlatformTheme</name>
    <message>
        <source>Cancel</source>
        <translation>إلغاء</translation>
    </message>
</context>
<context>
    <name>QShortcut</name>
    <message>
        <source>Space</source>
        <translation>مسافة</translation>
    </message>
    <message>
        <source>Del</source>
        <translation>حذف</translation>
    </message>
    <message>
        <source>Home</source>
        <translation>البداية</translation>
    </message>
    <message>
        <source>End</source>
        <translation>النهاية</translation>
    </message>
    <message>
        <source>Up</source>
        <translation>الأعلى</translation>
    </message>
    <message>
        <source>Down</source>
        <translation>الأسفل</translation>
    </message>
</context>
<context>
    <name>RuleDialog</name>
    <message>
        <source>Edit rule</source>
        <translation>تعديل القاعدة</translation>
    </message>
    <message>
        <source>New rule</source>
        <translation>قاعدة جديدة</translation>
    </message>
    <message>
        <source>any</source>
        <translation>أي قيمة</translation>
    </message>
    <message>
        <source>&amp;Name:</source>
        <translation>الا&amp;سم:</translation>
    </message>
    <message>
        <source>Rule name</source>
        <translation>اسم القاعدة</translation>
    </message>
    <message>
        <source>Rule on</source>
        <translation>القاعدة مفعّلة</translation>
    </message>
    <message>
        <source>Items that match every condition filled in:</source>
        <translation>المواد التي تستوفي كل الشروط المحددة:</translation>
    </message>
    <message>
        <source>Categories:</source>
        <translation>التصنيفات:</translation>
    </message>
    <message>
        <source>Categories</source>
        <translation>التصنيفات</translation>
    </message>
    <message>
        <source>Regions:</source>
        <translation>المناطق:</translation>
    </message>
    <message>
        <source>Regions</source>
        <translation>المناطق</translation>
    </message>
    <message>
        <source>Countries:</source>
        <translation>البلدان:</translation>
    </message>
    <message>
        <source>Countries (two-letter codes)</source>
        <translation>البلدان (رموز من حرفين)</translation>
    </message>
    <message>
        <source>any (e.g. KE, SN)</source>
        <translation>أي بلد (مثلاً KE, SN)</translation>
    </message>
    <message>
        <source>Languages:</source>
        <translation>اللغات:</translation>
    </message>
    <message>
        <source>Priorities:</source>
        <translation>الأولويات:</translation>
    </message>
    <message>
        <source>Words:</source>
        <translation>الكلمات:</translation>
    </message>
    <message>
        <source>Words or phrases</source>
        <translation>كلمات أو عبارات</translation>
    </message>
    <message>
        <source>any (e.g. ONU, élection*)</source>
        <translation>أي كلمة (مثلًا: ONU، انتخاب*)</translation>
    </message>
    <message>
        <source>Whole words, whatever the case and accents: UN does not find “une”. End a word with * for the words that begin with it: vote* finds “voters”.</source>
        <translation>كلمات كاملة، أيًّا كانت حالة الأحرف والتشكيل: UN لا تجد «une». أنهِ الكلمة بـ* لتشمل الكلمات التي تبدأ بها: انتخاب* تجد «انتخابات».</translation>
    </message>
    <message>
        <source>What to download</source>
        <translation>ما يجب تنزيله</translation>
    </message>
    <message>
        <source>&amp;Download:</source>
        <translation>&amp;تنزيل:</translation>
    </message>
    <message>
        <source>Destination folder</source>
        <translation>مجلد الوجهة</translation>
    </message>
    <message>
        <source>the download folder</source>
        <translation>مجلد التنزيلات</translation>
    </message>
    <message>
        <source>&amp;To folder:</source>
        <translation>إ&amp;لى المجلد:</translation>
    </message>
    <message>
        <source>“{code}” (no item is in it)</source>
        <translation>«{code}» (لا مادة بهذه اللغة)</translation>
    </message>
    <message>
        <source>Give the rule a name.</source>
        <translation>أعطِ القاعدة اسماً.</translation>
    </message>
    <message>
        <source>A rule&apos;s name is at most 100 characters.</source>
        <translation>لا يتجاوز اسم القاعدة 100 حرف.</translation>
    </message>
    <message>
        <source>Another rule is already named “{name}”.</source>
        <translation>توجد قاعدة أخرى باسم «{name}».</translation>
    </message>
    <message>
        <source>Countries are two-letter codes separated by commas, like KE, SN.</source>
        <translation>البلدان رموز من حرفين تفصل بينها فواصل، مثل KE, SN.</translation>
    </message>
    <message>
        <source>“{code}” is not a language of the hub&apos;s items: this rule takes no item. Untick it and tick English, French or Arabic (none ticked: any language).</source>
        <translation>«{code}» ليست لغة من لغات مواد المركز: هذه القاعدة لا تأخذ أي مادة. ألغِ تحديدها وحدّد الإنجليزية أو الفرنسية أو العربية (دون تحديد: أي لغة).</translation>
    </message>
    <message>
        <source>“{word}” has no letters or digits to look for.</source>
        <translation>«{word}» لا يحتوي على حروف أو أرقام للبحث عنها.</translation>
    </message>
</context>
<context>
    <name>RulesModel</name>
    <message>
        <source>Name</source>
        <translation>الاسم</translation>
    </message>
    <message>
        <source>On</source>
        <translation>مفعّلة</translation>
    </message>
    <message>
        <source>Conditions</source>
        <translation>الشروط</translation>
    </message>
    <message>
        <source>Action</source>
        <translation>الإجراء</translation>
    </message>
    <message>
        <source>Destination</source>
        <translation>الوجهة</translation>
    </message>
    <message numerus="yes">
        <source>⚠ %1 — cannot be written; %Ln items waiting</source>
        <translation>
            <numerusform>⚠ %1 — تتعذّر الكتابة؛ لا مواد تنتظر</numerusform>
            <numerusform>⚠ %1 — تتعذّر الكتابة؛ مادة واحدة تنتظر</numerusform>
            <numerusform>⚠ %1 — تتعذّر الكتابة؛ مادتان تنتظران</numerusform>
            <numerusform>⚠ %1 — تتعذّر الكتابة؛ %Ln مواد تنتظر</numerusform>
            <numerusform>⚠ %1 — تتعذّر الكتابة؛ %Ln مادةً تنتظر</numerusform>
            <numerusform>⚠ %1 — تتعذّر الكتابة؛ %Ln مادة تنتظر</numerusform>
        </translation>
    </message>
    <message>
        <source>Download folder</source>
        <translation>مجلد التنزيلات</translation>
    </message>
    <message>
        <source>Rule on</source>
        <translation>القاعدة مفعّلة</translation>
    </message>
    <message>
        <source>Rule off</source>
        <translation>القاعدة معطّلة</translation>
    </message>
    <message>
        <source>Broadcast file</source>
        <translation>ملف البث</translation>
    </message>
    <message>
        <source>Proxy (preview) file</source>
        <translation>ملف المعاينة (بروكسي)</translation>
    </message>
    <message>
        <source>Proxy first, then broadcast</source>
        <translation>المعاينة أولاً ثم ملف البث</translation>
    </message>
    <message>
        <source>Every new item</source>
        <translation>كل مادة جديدة</translation>
    </message>
    <message>
        <source>Category: {values}</source>
        <translation>التصنيف: {values}</translation>
    </message>
    <message>
        <source>Region: {values}</source>
        <translation>المنطقة: {values}</translation>
    </message>
    <message>
        <source>Country: {values}</source>
        <translation>البلد: {values}</translation>
    </message>
    <message>
        <source>Language: {values}</source>
        <translation>اللغة: {values}</translation>
    </message>
    <message>
        <source>Priority: {values}</source>
        <translation>الأولوية: {values}</translation>
    </message>
    <message>
        <source>, </source>
        <extracomment>between the values of one condition, any of which matches: &quot;French, Arabic&quot;</extracomment>
        <translation>، </translation>
    </message>
    <message>
        <source>“{word}”</source>
        <translation>«{word}»</translation>
    </message>
    <message>
        <source>Words: {values}</source>
        <translation>الكلمات: {values}</translation>
    </message>
    <message>
        <source>; </source>
        <translation>؛ </translation>
    </message>
</context>
<context>
    <name>RulesPage</name>
    <message>
        <source>New items are checked against the rules from the top: the first rule that is on and matches downloads the item. Items older than a day are never downloaded by a rule.</source>
        <translation>تُقارن المواد الجديدة بالقواعد من الأعلى: أول قاعدة مفعّلة تنطبق تنزّل المادة. لا تنزّل أي قاعدة مادة مضى عليها أكثر من يوم.</translation>
    </message>
    <message>
        <source>Sign in to a hub to set up automatic downloads.</source>
        <translation>سجّل الدخول إلى مركز لإعداد التنزيل التلقائي.</translation>
    </message>
    <message>
        <source>Since this update, the words of your saved rules match whole words: UN no longer finds “une”. A * at the end of a word finds the words that begin with it: vote* finds “voters”. Your saved words were given a * to find what they found before, except acronyms and words of fewer than four letters: check your rules.</source>
        <translation>منذ هذا التحديث تطابق كلمات قواعدك المحفوظة كلمات كاملة: لم تعد UN تجد «une». وعلامة * في آخر الكلمة تجد الكلمات التي تبدأ بها: vote* تجد «voters». أُضيفت * إلى كلماتك المحفوظة لتجد ما كانت تجده من قبل، إلا الاختصارات والكلمات التي تقل عن أربعة أحرف: راجع قواعدك.</translation>
    </message>
    <message>
        <source>Auto-download rules</source>
        <translation>قواعد التنزيل التلقائي</translation>
    </message>
    <message>
        <source>&amp;Add…</source>
        <translation>إ&amp;ضافة…</translation>
    </message>
    <message>
        <source>&amp;Edit…</source>
        <translation>تع&amp;ديل…</translation>
    </message>
    <message>
        <source>&amp;Remove</source>
        <translation>&amp;حذف</translation>
    </message>
    <message>
        <source>Move &amp;up</source>
        <translation>نقل لأ&amp;على</translation>
    </message>
    <message>
        <source>Move do&amp;wn</source>
        <translation>نقل لأ&amp;سفل</translation>
    </message>
    <message>
        <source>The rules were changed by another program (such as alu rules in a terminal) while Settings was open. Here they are again as they are now, with your other changes; nothing was saved yet. Check them and press OK again.</source>
        <translation>غيّر برنامج آخر القواعد (مثل alu rules في الطرفية) بينما كانت الإعدادات مفتوحة. ها هي كما هي الآن، مع تغييراتك الأخرى؛ لم يُحفظ شيء بعد. راجعها واضغط «موافق» من جديد.</translation>
    </message>
    <message>
        <source>“{name}” was removed meanwhile: your changes to it are lost.</source>
        <translation>حُذفت «{name}» في الأثناء: فُقدت تغييراتك عليها.</translation>
    </message>
    <message>
        <source>“{name}” was changed meanwhile: it is shown as it is now; make your changes to it again.</source>
        <translation>تغيّرت «{name}» في الأثناء: تظهر كما هي الآن؛ أعد إجراء تغييراتك عليها.</translation>
    </message>
    <message>
        <source>A rule named “{name}” was added meanwhile: rename yours.</source>
        <translation>أُضيفت في الأثناء قاعدة باسم «{name}»: غيّر اسم قاعدتك.</translation>
    </message>
    <message>
        <source>Turn &amp;off</source>
        <translation>تع&amp;طيل</translation>
    </message>
    <message>
        <source>Turn o&amp;n</source>
        <translation>ت&amp;فعيل</translation>
    </message>
    <message>
        <source>Remove rule</source>
        <translation>حذف القاعدة</translation>
    </message>
    <message numerus="yes">
        <source>The rule %1 has %Ln downloads that have not finished. Cancel them with the rule, or let them finish?</source>
        <translation>
            <numerusform>ليس للقاعدة %1 تنزيلات لم تكتمل.</numerusform>
            <numerusform>للقاعدة %1 تنزيل واحد لم يكتمل. أتلغيه مع القاعدة أم تدعه يكتمل؟</numerusform>
            <numerusform>للقاعدة %1 تنزيلان لم يكتملا. أتلغيهما مع القاعدة أم تدعهما يكتملان؟</numerusform>
            <numerusform>للقاعدة %1 ‏%Ln تنزيلات لم تكتمل. أتلغيها مع القاعدة أم تدعها تكتمل؟</numerusform>
            <numerusform>للقاعدة %1 ‏%Ln تنزيلًا لم تكتمل. أتلغيها مع القاعدة أم تدعها تكتمل؟</numerusform>
            <numerusform>للقاعدة %1 ‏%Ln تنزيل لم تكتمل. أتلغيها مع القاعدة أم تدعها تكتمل؟</numerusform>
        </translation>
    </message>
    <message>
        <source>Turn off rule</source>
        <translation>إيقاف القاعدة</translation>
    </message>
    <message numerus="yes">
        <source>The rule %1 has %Ln downloads that have not finished. Turning it off does not stop them: cancel them, or let them finish?</source>
        <translation>
            <numerusform>ليس للقاعدة %1 تنزيلات لم تكتمل.</numerusform>
            <numerusform>للقاعدة %1 تنزيل واحد لم يكتمل. إيقافها لا يوقفه: أتلغيه أم تدعه يكتمل؟</numerusform>
            <numerusform>للقاعدة %1 تنزيلان لم يكتملا. إيقافها لا يوقفهما: أتلغيهما أم تدعهما يكتملان؟</numerusform>
            <numerusform>للقاعدة %1 ‏%Ln تنزيلات لم تكتمل. إيقافها لا يوقفها: أتلغيها أم تدعها تكتمل؟</numerusform>
            <numerusform>للقاعدة %1 ‏%Ln تنزيلًا لم تكتمل. إيقافها لا يوقفها: أتلغيها أم تدعها تكتمل؟</numerusform>
            <numerusform>للقاعدة %1 ‏%Ln تنزيل لم تكتمل. إيقافها لا يوقفها: أتلغيها أم تدعها تكتمل؟</numerusform>
        </translation>
    </message>
    <message>
        <source>Cancel leaves the rule on.</source>
        <translation>الإلغاء يُبقي القاعدة مفعّلة.</translation>
    </message>
    <message numerus="yes">
        <source>Cancel its %Ln downloads</source>
        <translation>
            <numerusform>لا تنزيلات لإلغائها</numerusform>
            <numerusform>ألغِ تنزيلها</numerusform>
            <numerusform>ألغِ تنزيليها</numerusform>
            <numerusform>ألغِ تنزيلاتها الـ%Ln</numerusform>
            <numerusform>ألغِ تنزيلاتها الـ%Ln</numerusform>
            <numerusform>ألغِ تنزيلاتها الـ%Ln</numerusform>
        </translation>
    </message>
    <message>
        <source>Let them finish</source>
        <translation>دعها تكتمل</translation>
    </message>
</context>
<context>
    <name>ScheduleModel</name>
    <message>
        <source>Days</source>
        <translation>الأيام</translation>
    </message>
    <message>
        <source>From</source>
        <translation>من</translation>
    </message>
    <message>
        <source>To</source>
        <translation>إلى</translation>
    </message>
    <message>
        <source>Down</source>
        <translation>التنزيل</translation>
    </message>
    <message>
        <source>Up</source>
        <translation>الرفع</translation>
    </message>
    <message>
        <source>{time} next day</source>
        <translation>{time} من اليوم التالي</translation>
    </message>
    <message>
        <source>Unlimited</source>
        <translation>بلا حد</translation>
    </message>
</context>
<context>
    <name>ScheduleRuleDialog</name>
    <message>
        <source>Bandwidth period</source>
        <translation>فترة عرض النطاق</translation>
    </message>
    <message>
        <source>From</source>
        <translation>من</translation>
    </message>
    <message>
        <source>To (00:00 is midnight)</source>
        <translation>إلى (00:00 منتصف الليل)</translation>
    </message>
    <message>
        <source>Download limit in this period</source>
        <translation>حد التنزيل في هذه الفترة</translation>
    </message>
    <message>
        <source>Upload limit in this period</source>
        <translation>حد الرفع في هذه الفترة</translation>
    </message>
    <message>
        <source>unlimited</source>
        <translation>بلا حد</translation>
    </message>
    <message>
        <source>Days:</source>
        <translation>الأيام:</translation>
    </message>
    <message>
        <source>From:</source>
        <translation>من:</translation>
    </message>
    <message>
        <source>To:</source>
        <translation>إلى:</translation>
    </message>
    <message>
        <source>Download limit:</source>
        <translation>حد التنزيل:</translation>
    </message>
    <message>
        <source>Upload limit:</source>
        <translation>حد الرفع:</translation>
    </message>
    <message>
        <source>From and To are the same: this period lasts a whole day, 24 hours.</source>
        <translation>«من» و«إلى» متساويان: تستمر هذه الفترة يوماً كاملاً، 24 ساعة.</translation>
    </message>
    <message>
        <source>A period that ends before it starts runs past midnight.</source>
        <translation>الفترة التي تنتهي قبل بدايتها تمتد إلى ما بعد منتصف الليل.</translation>
    </message>
    <message>
        <source>Tick at least one day.</source>
        <translation>اختر يوماً واحداً على الأقل.</translation>
    </message>
</context>
<context>
    <name>SentElsewhereModel</name>
    <message>
        <source>File</source>
        <translation>الملف</translation>
    </message>
    <message>
        <source>Status</source>
        <translation>الحالة</translation>
    </message>
    <message>
        <source>Since</source>
        <translation>منذ</translation>
    </message>
</context>
<context>
    <name>SettingsDialog</name>
    <message>
        <source>Settings</source>
        <translation>الإعدادات</translation>
    </message>
    <message>
        <source>General</source>
        <translation>عام</translation>
    </message>
    <message>
        <source>Transfers</source>
        <translation>عمليات النقل</translation>
    </message>
    <message>
        <source>Auto-download</source>
        <translation>التنزيل التلقائي</translation>
    </message>
    <message>
        <source>Hot folders</source>
        <translation>المجلدات المراقَبة</translation>
    </message>
    <message>
        <source>Network</source>
        <translation>الشبكة</translation>
    </message>
    <message>
        <source>Settings pages</source>
        <translation>صفحات الإعدادات</translation>
    </message>
    <message>
        <source>The settings could not be read or saved: {error}</source>
        <translation>تعذّرت قراءة الإعدادات أو حفظها: {error}</translation>
    </message>
</context>
<context>
    <name>SettingsFields</name>
    <message>
        <source>“{text}” is not a speed; write e.g. {megabits}, {kilobits} or {megabytes}, or leave it empty for no limit.</source>
        <translation>«{text}» ليس سرعة؛ اكتب مثلاً {megabits} أو {kilobits} أو {megabytes}، أو اتركه فارغاً لعدم التقييد.</translation>
    </message>
    <message>
        <source>“{text}” is too slow to move a file; write at least {floor}, or leave it empty for no limit.</source>
        <translation>«{text}» بطيء جدًا لنقل ملف؛ اكتب على الأقل {floor}، أو اتركه فارغًا لعدم التقييد.</translation>
    </message>
</context>
<context>
    <name>ShellActions</name>
    <message>
        <source>&amp;Add files…</source>
        <translation>إ&amp;ضافة ملفات…</translation>
    </message>
    <message>
        <source>Choose video files to upload</source>
        <translation>اختيار ملفات فيديو لرفعها</translation>
    </message>
    <message>
        <source>&amp;Settings…</source>
        <translation>الإ&amp;عدادات…</translation>
    </message>
    <message>
        <source>Folders, limits, rules, language</source>
        <translation>المجلدات والحدود والقواعد واللغة</translation>
    </message>
    <message>
        <source>&amp;Pause all</source>
        <translation>إ&amp;يقاف الكل مؤقتًا</translation>
    </message>
    <message>
        <source>Pause every transfer</source>
        <translation>إيقاف كل عمليات النقل مؤقتًا</translation>
    </message>
    <message>
        <source>&amp;Resume all</source>
        <translation>ا&amp;ستئناف الكل</translation>
    </message>
    <message>
        <source>Resume every paused transfer</source>
        <translation>استئناف كل عمليات النقل المتوقفة مؤقتًا</translation>
    </message>
    <message>
        <source>S&amp;ync now</source>
        <translation>م&amp;زامنة الآن</translation>
    </message>
    <message>
        <source>Ask the hub for new items now</source>
        <translation>طلب المواد الجديدة من المركز الآن</translation>
    </message>
    <message>
        <source>Sign &amp;in…</source>
        <translation>تسجيل ال&amp;دخول…</translation>
    </message>
    <message>
        <source>Sign in to the hub again; the transfers under way go on</source>
        <translation>سجّل الدخول إلى المركز من جديد؛ تستمر عمليات النقل الجارية</translation>
    </message>
    <message>
        <source>Sign &amp;out…</source>
        <translation>تسجيل ال&amp;خروج…</translation>
    </message>
    <message>
        <source>Sign out of the hub</source>
        <translation>تسجيل الخروج من المركز</translation>
    </message>
    <message>
        <source>&amp;Quit</source>
        <translation>إ&amp;نهاء</translation>
    </message>
    <message>
        <source>Stop the transfers and quit</source>
        <translation>إيقاف عمليات النقل والإنهاء</translation>
    </message>
    <message>
        <source>&amp;About ALU Desk</source>
        <translation>ح&amp;ول ALU Desk</translation>
    </message>
    <message>
        <source>Check for &amp;updates</source>
        <translation>البحث عن ت&amp;حديثات</translation>
    </message>
    <message>
        <source>Ask the hub</source>
        <translation>سؤال المركز</translation>
    </message>
    <message>
        <source>&amp;Feed</source>
        <translation>ال&amp;موجز</translation>
    </message>
    <message>
        <source>&amp;Transfers</source>
        <translation>عمليات ال&amp;نقل</translation>
    </message>
    <message>
        <source>&amp;Library</source>
        <translation>الم&amp;كتبة</translation>
    </message>
    <message>
        <source>&amp;History</source>
        <translation>ال&amp;سجل</translation>
    </message>
    <message>
        <source>&amp;File</source>
        <translation>&amp;ملف</translation>
    </message>
    <message>
        <source>&amp;View</source>
        <translation>&amp;عرض</translation>
    </message>
    <message>
        <source>T&amp;ools</source>
        <translation>أ&amp;دوات</translation>
    </message>
    <message>
        <source>&amp;Help</source>
        <translation>م&amp;ساعدة</translation>
    </message>
    <message>
        <source>Main toolbar</source>
        <translation>شريط الأدوات الرئيسي</translation>
    </message>
</context>
<context>
    <name>SignInDialog</name>
    <message>
        <source>The hub has not answered yet; trying again…</source>
        <translation>لم يُجب المركز بعد؛ جارٍ إعادة المحاولة…</translation>
    </message>
    <message>
        <source>Has the hub moved?</source>
        <translation>هل انتقل المركز إلى عنوان جديد؟</translation>
    </message>
    <message>
        <source>This workstation&apos;s library, transfers and history are with the hub at {old}. Is {new} the same hub at a new address?</source>
        <translation>مكتبة محطة العمل هذه ونقلها وسجلها مرتبطة بالمركز على {old}. هل {new} هو المركز نفسه على عنوان جديد؟</translation>
    </message>
    <message>
        <source>If it moved, they go with it: transfers not yet done go on at the new address. The transfers stop for the sign-in and start again after it.</source>
        <translation>إن كان قد انتقل، فإنها تنتقل معه: تستمر عمليات النقل غير المكتملة على العنوان الجديد. تتوقف عمليات النقل أثناء تسجيل الدخول ثم تُستأنف بعده.</translation>
    </message>
    <message>
        <source>Same hub, new address</source>
        <translation>المركز نفسه، عنوان جديد</translation>
    </message>
    <message>
        <source>Another hub</source>
        <translation>مركز آخر</translation>
    </message>
    <message>
        <source>This is another hub (its identity differs): {new} is not the hub at {old}. You are signed in to it as another hub; nothing of this workstation&apos;s library, transfers or history went there. The transfers for {old} wait until you sign in there again.</source>
        <translation>هذا مركز آخر (هويته مختلفة): ⁨{new}⁩ ليس المركز الموجود على ⁨{old}⁩. أنت متصل به بوصفه مركزًا آخر؛ ولم يُرسَل إليه شيء من مكتبة محطة العمل هذه أو عمليات النقل أو السجل. تنتظر عمليات النقل الخاصة بـ⁨{old}⁩ حتى تسجّل الدخول إليه من جديد.</translation>
    </message>
    <message>
        <source>The hub at {url} is not the one this workstation knew there: it was rebuilt with a new database, or another hub took its place. Its feed is read from the start. Downloads not done yet were stopped, as their items were on the hub before (download them again from the feed if the new hub has them); uploads not done yet start again from the beginning on the new hub; history not sent yet stays on this workstation only. The files in your library stay as they are.</source>
        <translation>المركز في {url} ليس المركز الذي عرفته محطة العمل هذه هناك: أُعيد بناؤه بقاعدة بيانات جديدة، أو حلّ محله مركز آخر. يُقرأ موجزه من البداية. أُوقفت التنزيلات التي لم تكتمل لأن موادها كانت على المركز السابق (نزّلها من جديد من الموجز إن كانت على المركز الجديد)؛ والإرسالات التي لم تكتمل تبدأ من جديد من البداية على المركز الجديد؛ والسجل الذي لم يُرسل بعد يبقى على محطة العمل هذه وحدها. تبقى الملفات في مكتبتك كما هي.</translation>
    </message>
    <message>
        <source>Another hub at this address</source>
        <translation>مركز آخر في هذا العنوان</translation>
    </message>
    <message>
        <source>Use the hub&apos;s https:// address, or allow plain HTTP.</source>
        <translation>استخدم عنوان https:// للمركز، أو اسمح باستخدام HTTP غير المشفّر.</translation>
    </message>
    <message>
        <source>The sign-in was not kept. Install a system keyring, then sign in again.</source>
        <translation>لم تُحفظ بيانات الدخول. ثبّت سلسلة مفاتيح للنظام، ثم سجّل الدخول مجددًا.</translation>
    </message>
    <message>
        <source>The hub at this address is another hub now, and this workstation&apos;s transfers must be made its own, but another ALU Desk (or alu watch run) is at work on them: close it, then sign in again.</source>
        <translation>المركز في هذا العنوان مركز آخر الآن، ويجب أن تُنقل إليه نقلات محطة العمل هذه، لكن نسخة أخرى من ALU Desk ‏(أو alu watch run) تعمل عليها: أغلقها ثم سجّل الدخول من جديد.</translation>
    </message>
    <message>
        <source>Another ALU Desk (or alu watch run) is at work on this workstation&apos;s transfers: close it, then sign in again to move to the new address.</source>
        <translation>نسخة أخرى من ALU Desk (أو alu watch run) تعمل على عمليات النقل في محطة العمل هذه: أغلقها، ثم سجّل الدخول مجددًا للانتقال إلى العنوان الجديد.</translation>
    </message>
    <message>
        <source>The hub refused the user name or password.</source>
        <translation>رفض المركز اسم المستخدم أو كلمة المرور.</translation>
    </message>
    <message>
        <source>The security certificate of the network&apos;s proxy{proxy} could not be checked. If your organisation uses its own certificate authority, add it to the system&apos;s certificate store, or choose a CA bundle under Advanced that holds it and the hub&apos;s authority.</source>
        <translation>تعذّر التحقق من شهادة الأمان الخاصة بوكيل الشبكة{proxy}. إن كانت لمؤسستك جهة تصديق خاصة بها فأضفها إلى مخزن شهادات النظام، أو اختر في الإعدادات المتقدمة ملف شهادات (CA bundle) يحويها مع جهة تصديق المركز.</translation>
    </message>
    <message>
        <source>The hub&apos;s security certificate was refused (%1). If your organisation uses its own certificate authority, choose its CA bundle under Advanced.</source>
        <translation>رُفضت شهادة الأمان الخاصة بالمركز (%1). إن كانت مؤسستك تستخدم جهة تصديق خاصة بها، فاختر ملف شهاداتها في الإعدادات المتقدمة.</translation>
    </message>
    <message>
        <source>The hub&apos;s security certificate could not be checked. If your organisation uses its own certificate authority, choose its CA bundle under Advanced.</source>
        <translation>تعذّر التحقق من شهادة الأمان الخاصة بالمركز. إن كانت مؤسستك تستخدم جهة تصديق خاصة بها، فاختر ملف شهاداتها في الإعدادات المتقدمة.</translation>
    </message>
    <message>
        <source>The hub did not answer in TLS (https) at this address: is its port one for plain http (then the address begins with http://), or is a network login page in the way? Check the hub&apos;s address.</source>
        <translation>لم يُجب المركز بـTLS ‏(https) على هذا العنوان: هل منفذه لـhttp العادي (فيبدأ العنوان عندئذ بـ http://)، أم أن صفحة دخول إلى الشبكة تعترض الطريق؟ تحقّق من عنوان المركز.</translation>
    </message>
    <message>
        <source>The network&apos;s proxy{proxy} wants a user name and password, or did not take the ones given. Give them under Advanced, with the proxy&apos;s address (they are kept in the system keyring), or ask the network&apos;s administrator to let this computer through without one.</source>
        <translation>يطلب وكيل الشبكة{proxy} اسم مستخدم وكلمة مرور، أو لم يقبل ما أُعطي. أدخلهما في الإعدادات المتقدمة مع عنوان الوكيل (يُحفظان في سلسلة مفاتيح النظام)، أو اطلب من مسؤول الشبكة السماح لهذا الحاسوب بالمرور دونهما.</translation>
    </message>
    <message>
        <source>The network&apos;s proxy{proxy} refused to let this computer reach the hub (HTTP {status}). Check the proxy under Advanced, or ask the network&apos;s administrator.</source>
        <translation>رفض وكيل الشبكة{proxy} وصول هذا الحاسوب إلى المركز (HTTP {status}). تحقق من الوكيل في الإعدادات المتقدمة، أو راجع مسؤول الشبكة.</translation>
    </message>
    <message>
        <source>The hub did not answer in time. Check the workstation&apos;s connection (or the proxy under Advanced), then try again.</source>
        <translation>لم يُجب المركز في الوقت المحدد. تحقّق من اتصال محطة العمل (أو من الوكيل ضمن إعدادات الاتصال المتقدمة)، ثم أعد المحاولة.</translation>
    </message>
    <message>
        <source>The hub could not be reached. Check its address and the network (or the proxy under Advanced), then try again.</source>
        <translation>تعذّر الوصول إلى المركز. تحقّق من عنوانه ومن الشبكة (أو من الوكيل في الإعدادات المتقدمة)، ثم أعد المحاولة.</translation>
    </message>
    <message>
        <source>This account is disabled: the password is right, but the agency has turned the account off. Ask the agency to turn it on again.</source>
        <translation>هذا الحساب معطَّل: كلمة المرور صحيحة، لكن الوكالة أوقفت الحساب. اطلب من الوكالة إعادة تفعيله.</translation>
    </message>
    <message>
        <source>The hub does not let this account sign in here: %1</source>
        <translation>لا يسمح المركز لهذا الحساب بتسجيل الدخول هنا: %1</translation>
    </message>
    <message>
        <source>%1 could not use the sign-in (%2); unlock the keyring, or untick “Remember me” to sign in for this session only.</source>
        <translation>تعذّر على ⁨%1⁩ استخدام بيانات الدخول (⁨%2⁩)؛ افتح قفل حافظة المفاتيح، أو ألغِ تحديد «تذكّرني» لتسجيل الدخول لهذه الجلسة فقط.</translation>
    </message>
    <message>
        <source>Signing in failed: %1</source>
        <translation>فشل تسجيل الدخول: %1</translation>
    </message>
    <message>
        <source>Plain HTTP</source>
        <translation>HTTP غير مشفّر</translation>
    </message>
    <message>
        <source>This hub address uses plain HTTP: the password and the footage would cross the network unencrypted. Use it only if your administrator says so.

Allow plain HTTP for this hub?</source>
        <translation>يستخدم عنوان هذا المركز بروتوكول HTTP غير المشفّر: ستعبر كلمة المرور والمواد المصوّرة الشبكة دون تشفير. لا تستخدمه إلا إذا طلب منك المسؤول ذلك.

هل تسمح باستخدام HTTP غير المشفّر لهذا المركز؟</translation>
    </message>
    <message>
        <source>No secure keyring</source>
        <translation>لا توجد سلسلة مفاتيح آمنة</translation>
    </message>
    <message>
        <source>%1

Keep the sign-in in plain text anyway?</source>
        <translation>%1

هل تريد رغم ذلك حفظ بيانات الدخول نصًا غير مشفّر؟</translation>
    </message>
    <message>
        <source>Signing in…</source>
        <translation>جارٍ تسجيل الدخول…</translation>
    </message>
    <message>
        <source>Sign in</source>
        <translation>تسجيل الدخول</translation>
    </message>
    <message>
        <source>CA bundle</source>
        <translation>ملف الشهادات</translation>
    </message>
    <message>
        <source>Certificates (*.pem *.crt *.cer);;All files (*)</source>
        <translation>الشهادات (*.pem *.crt *.cer);;كل الملفات (*)</translation>
    </message>
    <message>
        <source>Sign in to the hub</source>
        <translation>تسجيل الدخول إلى المركز</translation>
    </message>
    <message>
        <source>&amp;Hub address:</source>
        <translation>عنوان ال&amp;مركز:</translation>
    </message>
    <message>
        <source>https://hub.example.org</source>
        <translation>https://hub.example.org</translation>
    </message>
    <message>
        <source>Hub address</source>
        <translation>عنوان المركز</translation>
    </message>
    <message>
        <source>&amp;User name:</source>
        <translation>اسم الم&amp;ستخدم:</translation>
    </message>
    <message>
        <source>User name</source>
        <translation>اسم المستخدم</translation>
    </message>
    <message>
        <source>&amp;Password:</source>
        <translation>&amp;كلمة المرور:</translation>
    </message>
    <message>
        <source>Password</source>
        <translation>كلمة المرور</translation>
    </message>
    <message>
        <source>&amp;Remember me on this workstation</source>
        <translation>ت&amp;ذكّرني على محطة العمل هذه</translation>
    </message>
    <message>
        <source>Keep the sign-in in the system keyring (never the password). Off: sign in again at each start.</source>
        <translation>حفظ بيانات الدخول في سلسلة مفاتيح النظام (وليس كلمة المرور أبدًا). عند إلغاء التحديد: سجّل الدخول مجددًا عند كل تشغيل.</translation>
    </message>
    <message>
        <source>&amp;Advanced connection settings</source>
        <translation>إعدادات الاتصال المت&amp;قدمة</translation>
    </message>
    <message>
        <source>&amp;CA bundle:</source>
        <translation>ملف ال&amp;شهادات:</translation>
    </message>
    <message>
        <source>Certificate file of a private authority</source>
        <translation>ملف شهادات جهة تصديق خاصة</translation>
    </message>
    <message>
        <source>CA bundle file</source>
        <translation>ملف الشهادات</translation>
    </message>
    <message>
        <source>Browse…</source>
        <translation>استعراض…</translation>
    </message>
    <message>
        <source>Choose the CA bundle file</source>
        <translation>اختيار ملف الشهادات</translation>
    </message>
    <message>
        <source>Pro&amp;xy:</source>
        <translation>ال&amp;وكيل:</translation>
    </message>
    <message>
        <source>http://proxy.example.org:3128 (empty: system)</source>
        <translation>http://proxy.example.org:3128 (فارغ: وكيل النظام)</translation>
    </message>
    <message>
        <source>Proxy</source>
        <translation>الوكيل</translation>
    </message>
    <message>
        <source>Proxy user na&amp;me:</source>
        <translation>اسم مست&amp;خدم الوكيل:</translation>
    </message>
    <message>
        <source>only if the proxy asks for one</source>
        <translation>فقط إن طلبه الوكيل</translation>
    </message>
    <message>
        <source>Proxy user name</source>
        <translation>اسم مستخدم الوكيل</translation>
    </message>
    <message>
        <source>Proxy pass&amp;word:</source>
        <translation>كلمة م&amp;رور الوكيل:</translation>
    </message>
    <message>
        <source>Proxy password</source>
        <translation>كلمة مرور الوكيل</translation>
    </message>
    <message>
        <source>A&amp;llow plain HTTP (unencrypted)</source>
        <translation>السماح بـ &amp;HTTP (غير مشفّر)</translation>
    </message>
    <message>
        <source>Sign-in problem</source>
        <translation>مشكلة في تسجيل الدخول</translation>
    </message>
    <message>
        <source>Cancel</source>
        <translation>إلغاء</translation>
    </message>
</context>
<context>
    <name>Startup</name>
    <message>
        <source>ALU Desk cannot write its folders</source>
        <translation>لا يستطيع ALU Desk الكتابة في مجلداته</translation>
    </message>
    <message>
        <source>ALU Desk cannot open its library</source>
        <translation>يتعذّر على ALU Desk فتح مكتبته</translation>
    </message>
    <message>
        <source>The demo could not start</source>
        <translation>تعذّر تشغيل العرض التجريبي</translation>
    </message>
    <message>
        <source>ALU Desk cannot keep your sign-in</source>
        <translation>يتعذّر على ALU Desk حفظ بيانات دخولك</translation>
    </message>
    <message>
        <source>Starting the transfers…</source>
        <translation>جارٍ بدء عمليات النقل…</translation>
    </message>
    <message>
        <source>Updating your library for this version of ALU Desk (once; a large library takes a minute)…</source>
        <translation>جارٍ تحديث مكتبتك لهذا الإصدار من ALU Desk (مرة واحدة؛ تستغرق المكتبة الكبيرة دقيقة)…</translation>
    </message>
    <message>
        <source>ALU Desk is already at work on this data folder</source>
        <translation>يعمل ALU Desk بالفعل على مجلد البيانات هذا</translation>
    </message>
    <message>
        <source>Signing out…</source>
        <translation>جارٍ تسجيل الخروج…</translation>
    </message>
    <message>
        <source>You are signed out on this workstation, but the hub could not be told: that sign-in stays valid on the hub until it expires (30 days after it was made, unless the agency set another time). To end it now, ask the agency to sign out {username}.</source>
        <translation>تم تسجيل خروجك على محطة العمل هذه، لكن تعذّر إبلاغ المركز: يبقى تسجيل الدخول هذا صالحًا على المركز حتى انتهاء مدته (30 يومًا بعد إنشائه، ما لم تحدد الوكالة مدة أخرى). لإنهائه الآن، اطلب من الوكالة تسجيل خروج {username}.</translation>
    </message>
    <message>
        <source>ALU Desk is already running on this data folder but does not answer: it may be busy, or it has stopped responding. Switch to its window, or close it and start ALU Desk again.</source>
        <translation>ALU Desk يعمل بالفعل على مجلد البيانات هذا لكنه لا يستجيب: ربما هو مشغول، أو توقف عن الاستجابة. انتقل إلى نافذته، أو أغلقه ثم شغّل ALU Desk من جديد.</translation>
    </message>
    <message>
        <source>The disk that holds {folder} is full. Free some space there, then start ALU Desk again.</source>
        <translation>القرص الذي يحتوي على {folder} ممتلئ. حرّر بعض المساحة عليه، ثم شغّل ALU Desk من جديد.</translation>
    </message>
    <message>
        <source>the disk is read-only</source>
        <translation>القرص للقراءة فقط</translation>
    </message>
    <message>
        <source>your account may not write there</source>
        <translation>لا يحق لحسابك الكتابة هناك</translation>
    </message>
    <message>
        <source>ALU Desk keeps its library, logs and cache in your home folder and cannot write to {folder}: {reason}.

Ask your administrator to give your account write access to this folder (or to free it if it is full or belongs to another account), then start ALU Desk again.</source>
        <translation>يحفظ ALU Desk مكتبته وسجلاته وذاكرته المؤقتة في مجلدك الشخصي، ولا يستطيع الكتابة في {folder}: {reason}.

اطلب من المسؤول عن النظام أن يمنح حسابك حق الكتابة في هذا المجلد (أو أن يحرّره إن كان ممتلئًا أو تابعًا لحساب آخر)، ثم شغّل ALU Desk من جديد.</translation>
    </message>
    <message>
        <source>ALU Desk must update its library for this version, and keeps a copy of it first: that needs {needed} free on the disk that holds {folder}, where {free} are free. Free some space there, then start ALU Desk again; nothing was changed.</source>
        <translation>يجب على ALU Desk تحديث مكتبته لهذا الإصدار، ويحتفظ أولًا بنسخة منها: يلزم ذلك {needed} من المساحة الحرة على القرص الذي يحوي {folder}، والمتاح عليه {free}. أفرغ بعض المساحة هناك، ثم شغّل ALU Desk من جديد؛ لم يتغير شيء.</translation>
    </message>
    <message>
        <source>The disk that holds {folder} is full. Free some space there, then start ALU Desk again. The library is not damaged by it: nothing is lost.</source>
        <translation>القرص الذي يحوي {folder} ممتلئ. أفرغ بعض المساحة هناك، ثم شغّل ALU Desk من جديد. لم تتضرر المكتبة بذلك: لم يُفقد شيء.</translation>
    </message>
    <message>
        <source>Another ALU Desk, or alu watch run (process {pid}), is at work on this data folder: the library must be updated for this version, which is not done under a running one. Quit it (or stop alu watch run), then start ALU Desk again; nothing was changed.</source>
        <translation>ALU Desk آخر، أو alu watch run (العملية {pid})، يعمل على مجلد البيانات هذا: يجب تحديث المكتبة لهذا الإصدار، ولا يُحدَّث تحت نسخة عاملة. أغلقه (أو أوقف alu watch run)، ثم شغّل ALU Desk من جديد؛ لم يُغيَّر شيء.</translation>
    </message>
    <message>
        <source>The path of the data folder {folder} is too long for the library&apos;s database ({length} bytes; about {usable} can be used). Start ALU Desk with a data folder on a shorter path (--data DIR, or ALU_CLIENT_HOME=DIR), or move this one. Nothing in it was changed.</source>
        <translation>مسار مجلد البيانات {folder} أطول مما تقبله قاعدة بيانات المكتبة ({length} بايت؛ الممكن نحو {usable}). شغّل ALU Desk بمجلد بيانات على مسار أقصر (‎--data DIR‎ أو ‎ALU_CLIENT_HOME=DIR‎)، أو انقل هذا المجلد. لم يُغيَّر فيه شيء.</translation>
    </message>
    <message>
        <source>The library {file} cannot be read now ({error}). Check its disk, then start ALU Desk again. Nothing says the file is damaged.</source>
        <translation>تتعذر قراءة المكتبة {file} الآن ({error}). تحقّق من قرصها، ثم شغّل ALU Desk من جديد. لا شيء يدل على أن الملف تالف.</translation>
    </message>
    <message>
        <source>ALU Desk could not use its library {file} ({error}). Nothing says the file is damaged: do not move it. Quit ALU Desk and start it again; if it happens again, tell the agency.</source>
        <translation>تعذّر على ALU Desk استخدام مكتبته {file} ({error}). لا شيء يدل على أن الملف تالف: لا تنقله. أغلق ALU Desk ثم شغّله من جديد؛ وإن تكرر ذلك فأبلغ الوكالة.</translation>
    </message>
    <message>
        <source>The library {file} is damaged ({error}). Quit ALU Desk, move {name} aside together with {name}-wal and {name}-shm if they are there (they belong to it), and start again: a new library begins, and the hub gives back the feed and your history (the transfers in the queue and the history not yet sent stay in the old file). The copy made before the last update ({name}.bak-vN, if it is there) can be put back instead: rename it {name}, once those three files are moved away.</source>
        <translation>المكتبة {file} تالفة ({error}). أغلق ALU Desk، وانقل {name} جانبًا مع {name}-wal و{name}-shm إن وُجدا (فهما تابعان لها)، ثم شغّله من جديد: تبدأ مكتبة جديدة، ويعيد المركز الخلاصة وسجلك (تبقى عمليات النقل في قائمة الانتظار والسجل الذي لم يُرسل بعد في الملف القديم). ويمكن بدلًا من ذلك إعادة النسخة المحفوظة قبل آخر تحديث ({name}.bak-vN، إن وُجدت): أعد تسميتها {name} بعد نقل تلك الملفات الثلاثة جانبًا.</translation>
    </message>
    <message>
        <source>An alu command (process {pid}) is running a transfer in this workstation&apos;s data folder. Wait for it to end, then start ALU Desk again.</source>
        <translation>يُجري أمر alu (العملية ⁨{pid}⁩) عملية نقل في مجلد بيانات محطة العمل هذه. انتظر حتى ينتهي، ثم شغّل ALU Desk من جديد.</translation>
    </message>
    <message>
        <source>Another ALU Desk, or alu watch run, is already at work on this workstation&apos;s transfers. Close it (or stop alu watch run), then start ALU Desk again.</source>
        <translation>نسخة أخرى من ALU Desk، أو alu watch run، تعمل بالفعل على عمليات النقل في محطة العمل هذه. أغلقها (أو أوقف alu watch run)، ثم شغّل ALU Desk من جديد.</translation>
    </message>
    <message>
        <source>Another ALU Desk, or alu watch run (process {pid}), is already at work on this workstation&apos;s transfers. Close it (or stop alu watch run), then start ALU Desk again.</source>
        <translation>نسخة أخرى من ALU Desk، أو alu watch run (العملية {pid})، تعمل بالفعل على عمليات النقل في محطة العمل هذه. أغلقها (أو أوقف alu watch run)، ثم شغّل ALU Desk من جديد.</translation>
    </message>
    <message>
        <source>The data folder {folder} is an ALU hub&apos;s data folder: a workstation&apos;s library, downloads and logs do not go there, and nothing was written in it.

Choose a folder of this workstation&apos;s own (start ALU Desk with --data DIR, or set ALU_CLIENT_HOME=DIR), then start it again.</source>
        <translation>مجلد البيانات {folder} هو مجلد بيانات مركز ALU: لا مكان فيه لمكتبة محطة العمل وتنزيلاتها وسجلاتها، ولم يُكتب فيه شيء.

اختر مجلدًا خاصًا بمحطة العمل هذه (شغّل ALU Desk مع ‎--data DIR‎، أو اضبط ‎ALU_CLIENT_HOME=DIR‎)، ثم شغّله من جديد.</translation>
    </message>
    <message>
        <source>The data folder {folder} is on a network share ({fstype}). ALU Desk keeps its library only on a local disk: on a share it can be damaged, the more so when two workstations use it.

Choose a data folder on this computer&apos;s disk (start ALU Desk with --data DIR, or set ALU_CLIENT_HOME=DIR), then start it again.</source>
        <translation>مجلد البيانات {folder} موجود على مشاركة شبكية ({fstype}). لا يحفظ ALU Desk مكتبته إلا على قرص محلي: على المشاركة قد تتلف، خاصة إذا استخدمتها محطتا عمل.

اختر مجلد بيانات على قرص هذا الحاسوب (شغّل ALU Desk مع ‎--data DIR، أو عيّن ALU_CLIENT_HOME=DIR)، ثم شغّله من جديد.</translation>
    </message>
    <message>
        <source>The data folder {folder} is on a file system that cannot lock files (a network share?). ALU Desk keeps its library there only on a local disk.

Choose a data folder on this computer&apos;s disk (start ALU Desk with --data DIR, or set ALU_CLIENT_HOME=DIR), then start it again.</source>
        <translation>مجلد البيانات {folder} موجود على نظام ملفات لا يستطيع قفل الملفات (مشاركة شبكية؟). لا يحفظ ALU Desk مكتبته إلا على قرص محلي.

اختر مجلد بيانات على قرص هذا الحاسوب (شغّل ALU Desk مع ‎--data DIR، أو عيّن ALU_CLIENT_HOME=DIR)، ثم شغّله من جديد.</translation>
    </message>
    <message>
        <source>This library was written by a newer version of ALU Desk (its format {current}; this version reads up to {newest}). Nothing was changed in it.

Install the newer ALU Desk again (ask your administrator for it), then start it.</source>
        <translation>كُتبت هذه المكتبة بإصدار أحدث من ALU Desk (صيغتها {current}؛ وهذا الإصدار يقرأ حتى {newest}). لم يُغيَّر فيها شيء.

ثبّت الإصدار الأحدث من ALU Desk مرة أخرى (اطلبه من المسؤول عن النظام)، ثم شغّله.</translation>
    </message>
    <message>
        <source>Unlock your login keychain (Keychain Access), then start ALU Desk again.</source>
        <translation>افتح قفل سلسلة مفاتيح تسجيل الدخول (الوصول إلى سلسلة المفاتيح)، ثم شغّل ALU Desk من جديد.</translation>
    </message>
    <message>
        <source>Make sure Windows Credential Manager is running, then start ALU Desk again.</source>
        <translation>تأكد من أن مدير بيانات الاعتماد في Windows يعمل، ثم شغّل ALU Desk من جديد.</translation>
    </message>
    <message>
        <source>Start or unlock your desktop&apos;s keyring (GNOME Keyring or KWallet; your administrator can install one), then start ALU Desk again.</source>
        <translation>شغّل حلقة المفاتيح في سطح المكتب أو افتح قفلها (GNOME Keyring أو KWallet؛ يستطيع المسؤول عن النظام تثبيت إحداهما)، ثم شغّل ALU Desk من جديد.</translation>
    </message>
    <message>
        <source>No keyring</source>
        <translation>لا توجد سلسلة مفاتيح</translation>
    </message>
    <message>
        <source>No keyring is available to keep your sign-in safe.</source>
        <translation>لا تتوفر سلسلة مفاتيح لحفظ بيانات دخولك بأمان.</translation>
    </message>
    <message>
        <source>You can go on with the sign-in kept in a file that is NOT secure: anyone who can read your files could use it.</source>
        <translation>يمكنك المتابعة مع حفظ بيانات الدخول في ملف غير آمن: أي شخص يستطيع قراءة ملفاتك يمكنه استخدامها.</translation>
    </message>
    <message>
        <source>Continue with an insecure file</source>
        <translation>المتابعة بملف غير آمن</translation>
    </message>
    <message>
        <source>Quit</source>
        <translation>إنهاء</translation>
    </message>
</context>
<context>
    <name>StatusBar</name>
    <message>
        <source>Connecting…</source>
        <translation>جارٍ الاتصال…</translation>
    </message>
    <message>
        <source>Catching up with the feed: %1 items so far…</source>
        <translation>جارٍ تحديث الموجز: %1 عنصرًا حتى الآن…</translation>
    </message>
    <message>
        <source>● Online</source>
        <translation>● متصل</translation>
    </message>
    <message>
        <source>Connected to the hub; the feed&apos;s new items are being downloaded.</source>
        <translation>متصل بالمركز؛ يجري تنزيل العناصر الجديدة في الموجز.</translation>
    </message>
    <message>
        <source>Connected to the hub; the feed is live.</source>
        <translation>متصل بالمركز؛ الموجز يصل مباشرة.</translation>
    </message>
    <message>
        <source>○ Offline</source>
        <translation>○ غير متصل</translation>
    </message>
    <message>
        <source>The hub cannot be reached; the app will catch up.</source>
        <translation>يتعذّر الوصول إلى المركز؛ سيستدرك التطبيق ما فاته لاحقًا.</translation>
    </message>
    <message>
        <source>○ Signed out</source>
        <translation>○ تم تسجيل الخروج</translation>
    </message>
    <message>
        <source>The hub no longer accepts this sign-in.</source>
        <translation>لم يعد المركز يقبل بيانات الدخول هذه.</translation>
    </message>
    <message>
        <source>Click to sign in (File › Sign in…).</source>
        <translation>انقر لتسجيل الدخول (ملف › تسجيل الدخول…).</translation>
    </message>
    <message>
        <source>⚠ Library cannot be saved</source>
        <translation>⚠ يتعذّر حفظ المكتبة</translation>
    </message>
    <message>
        <source>↓ %1  ↑ %2</source>
        <translation>↓ %1  ↑ %2</translation>
    </message>
    <message>
        <source>%1 active, %2 queued</source>
        <translation>الجارية: %1، في الانتظار: %2</translation>
    </message>
    <message numerus="yes">
        <source>⚠ Rule “%1”: %Ln items waiting</source>
        <translation>
            <numerusform>⚠ القاعدة «%1»: لا مواد تنتظر</numerusform>
            <numerusform>⚠ القاعدة «%1»: مادة واحدة تنتظر</numerusform>
            <numerusform>⚠ القاعدة «%1»: مادتان تنتظران</numerusform>
            <numerusform>⚠ القاعدة «%1»: %Ln مواد تنتظر</numerusform>
            <numerusform>⚠ القاعدة «%1»: %Ln مادةً تنتظر</numerusform>
            <numerusform>⚠ القاعدة «%1»: %Ln مادة تنتظر</numerusform>
        </translation>
    </message>
    <message numerus="yes">
        <source>⚠ Rules: %Ln items waiting</source>
        <translation>
            <numerusform>⚠ القواعد: لا مواد تنتظر</numerusform>
            <numerusform>⚠ القواعد: مادة واحدة تنتظر</numerusform>
            <numerusform>⚠ القواعد: مادتان تنتظران</numerusform>
            <numerusform>⚠ القواعد: %Ln مواد تنتظر</numerusform>
            <numerusform>⚠ القواعد: %Ln مادةً تنتظر</numerusform>
            <numerusform>⚠ القواعد: %Ln مادة تنتظر</numerusform>
        </translation>
    </message>
    <message numerus="yes">
        <source>Rule “%1”: %2; %Ln items waiting, downloaded once the folder can be written.</source>
        <translation>
            <numerusform>القاعدة «%1»: %2؛ لا مواد تنتظر.</numerusform>
            <numerusform>القاعدة «%1»: %2؛ مادة واحدة تنتظر، وتُنزَّل حين تصبح الكتابة في المجلد ممكنة.</numerusform>
            <numerusform>القاعدة «%1»: %2؛ مادتان تنتظران، وتُنزَّلان حين تصبح الكتابة في المجلد ممكنة.</numerusform>
            <numerusform>القاعدة «%1»: %2؛ %Ln مواد تنتظر، وتُنزَّل حين تصبح الكتابة في المجلد ممكنة.</numerusform>
            <numerusform>القاعدة «%1»: %2؛ %Ln مادةً تنتظر، وتُنزَّل حين تصبح الكتابة في المجلد ممكنة.</numerusform>
            <numerusform>القاعدة «%1»: %2؛ %Ln مادة تنتظر، وتُنزَّل حين تصبح الكتابة في المجلد ممكنة.</numerusform>
        </translation>
    </message>
    <message>
        <source>Connection: %1</source>
        <translation>الاتصال: %1</translation>
    </message>
    <message>
        <source>The hub no longer has what this workstation last saw of it (restored from a backup, or another hub at this address?): its feed and history are read again, and this workstation&apos;s recent history is sent to it again.</source>
        <translation>لم يعد لدى المركز ما رأته محطة العمل هذه منه آخر مرة (هل استُعيد من نسخة احتياطية، أم هو مركز آخر على هذا العنوان؟): يُقرأ الموجز والسجل من جديد، ويُرسَل إليه السجل الأخير لمحطة العمل هذه مرة أخرى.</translation>
    </message>
    <message>
        <source>Hub: %1</source>
        <translation>المركز: %1</translation>
    </message>
    <message>
        <source>Limit on</source>
        <translation>الحدّ مفعّل</translation>
    </message>
    <message>
        <source>No limit</source>
        <translation>بلا حدّ</translation>
    </message>
    <message>
        <source>Limit set by the weekly schedule: ↓ %1  ↑ %2 (Settings).</source>
        <translation>حدّ يفرضه الجدول الأسبوعي: ↓ %1  ↑ %2 (الإعدادات).</translation>
    </message>
    <message>
        <source>Bandwidth limit: ↓ %1  ↑ %2 (Settings or Transfers tab).</source>
        <translation>حدّ عرض النطاق: ↓ %1  ↑ %2 (الإعدادات أو تبويب عمليات النقل).</translation>
    </message>
    <message>
        <source>unlimited</source>
        <translation>بلا حدّ</translation>
    </message>
    <message>
        <source>No limit at this hour; the weekly schedule sets one at other hours.</source>
        <translation>لا حدّ في هذه الساعة؛ الجدول الأسبوعي يفرض حدًّا في ساعات أخرى.</translation>
    </message>
    <message>
        <source>Transfers use all the bandwidth they can.</source>
        <translation>تستخدم عمليات النقل كل عرض النطاق المتاح.</translation>
    </message>
</context>
<context>
    <name>Toolbar</name>
    <message>
        <source>More commands</source>
        <translation>مزيد من الأوامر</translation>
    </message>
</context>
<context>
    <name>TransferActions</name>
    <message>
        <source>Pause</source>
        <translation>إيقاف مؤقت</translation>
    </message>
    <message>
        <source>Pause the selected transfers</source>
        <translation>إيقاف عمليات النقل المحددة مؤقتًا</translation>
    </message>
    <message>
        <source>Resume</source>
        <translation>استئناف</translation>
    </message>
    <message>
        <source>Resume the selected transfers</source>
        <translation>استئناف عمليات النقل المحددة</translation>
    </message>
    <message>
        <source>Retry now</source>
        <translation>إعادة المحاولة الآن</translation>
    </message>
    <message>
        <source>Try the selected transfers again now, without waiting</source>
        <translation>إعادة محاولة عمليات النقل المحددة الآن دون انتظار</translation>
    </message>
    <message>
        <source>Cancel</source>
        <translation>إلغاء</translation>
    </message>
    <message>
        <source>Cancel the selected transfers (asks first)</source>
        <translation>إلغاء عمليات النقل المحددة (بعد التأكيد)</translation>
    </message>
    <message>
        <source>Raise priority</source>
        <translation>رفع الأولوية</translation>
    </message>
    <message>
        <source>Routine to urgent, urgent to flash</source>
        <translation>من عادي إلى عاجل، ومن عاجل إلى عاجل جدًا</translation>
    </message>
    <message>
        <source>Lower priority</source>
        <translation>خفض الأولوية</translation>
    </message>
    <message>
        <source>Flash to urgent, urgent to routine</source>
        <translation>من عاجل جدًا إلى عاجل، ومن عاجل إلى عادي</translation>
    </message>
    <message>
        <source>Limit speed…</source>
        <translation>تحديد السرعة…</translation>
    </message>
    <message>
        <source>A speed limit of their own for the selected transfers</source>
        <translation>حدّ سرعة خاص بالتحويلات المحددة</translation>
    </message>
    <message>
        <source>Move up</source>
        <translation>نقل لأعلى</translation>
    </message>
    <message>
        <source>One place earlier among the transfers of the same priority</source>
        <translation>مكان واحد أبكر بين عمليات النقل ذات الأولوية نفسها</translation>
    </message>
    <message>
        <source>Move down</source>
        <translation>نقل لأسفل</translation>
    </message>
    <message>
        <source>One place later among the transfers of the same priority</source>
        <translation>مكان واحد لاحقًا بين عمليات النقل ذات الأولوية نفسها</translation>
    </message>
    <message>
        <source>Move to the top</source>
        <translation>نقل إلى الأعلى</translation>
    </message>
    <message>
        <source>First of the transfers of the same priority</source>
        <translation>الأول بين عمليات النقل ذات الأولوية نفسها</translation>
    </message>
    <message>
        <source>Move to the bottom</source>
        <translation>نقل إلى الأسفل</translation>
    </message>
    <message>
        <source>Last of the transfers of the same priority</source>
        <translation>الأخير بين عمليات النقل ذات الأولوية نفسها</translation>
    </message>
    <message>
        <source>Pause all</source>
        <translation>إيقاف الكل مؤقتًا</translation>
    </message>
    <message>
        <source>Pause every transfer</source>
        <translation>إيقاف جميع عمليات النقل مؤقتًا</translation>
    </message>
    <message>
        <source>Resume all</source>
        <translation>استئناف الكل</translation>
    </message>
    <message>
        <source>Resume every paused transfer</source>
        <translation>استئناف جميع عمليات النقل المتوقفة</translation>
    </message>
</context>
<context>
    <name>TransfersModel</name>
    <message>
        <source>Rule: %1</source>
        <translation>القاعدة: %1</translation>
    </message>
    <message>
        <source>Usage restrictions: %1</source>
        <translation>قيود الاستخدام: %1</translation>
    </message>
    <message>
        <source>Limited to {rate}</source>
        <translation>محدود بـ {rate}</translation>
    </message>
    <message>
        <source>{done} of {total}</source>
        <translation>{done} من {total}</translation>
    </message>
    <message>
        <source>Name</source>
        <translation>الاسم</translation>
    </message>
    <message>
        <source>Direction</source>
        <translation>الاتجاه</translation>
    </message>
    <message>
        <source>Priority</source>
        <translation>الأولوية</translation>
    </message>
    <message>
        <source>State</source>
        <translation>الحالة</translation>
    </message>
    <message>
        <source>Progress</source>
        <translation>التقدّم</translation>
    </message>
    <message>
        <source>Speed</source>
        <translation>السرعة</translation>
    </message>
    <message>
        <source>Time left</source>
        <translation>الوقت المتبقي</translation>
    </message>
    <message>
        <source>Size</source>
        <translation>الحجم</translation>
    </message>
    <message>
        <source>Last error</source>
        <translation>آخر خطأ</translation>
    </message>
    <message>
        <source>Download</source>
        <translation>تنزيل</translation>
    </message>
    <message>
        <source>Upload</source>
        <translation>رفع</translation>
    </message>
    <message>
        <source>Flash</source>
        <translation>عاجل جدًا</translation>
    </message>
    <message>
        <source>Urgent</source>
        <translation>عاجل</translation>
    </message>
    <message>
        <source>Routine</source>
        <translation>عادي</translation>
    </message>
    <message>
        <source>Queued</source>
        <translation>في الانتظار</translation>
    </message>
    <message>
        <source>Transferring</source>
        <translation>جارٍ النقل</translation>
    </message>
    <message>
        <source>Paused</source>
        <translation>متوقف مؤقتًا</translation>
    </message>
    <message>
        <source>Done</source>
        <translation>مكتمل</translation>
    </message>
    <message>
        <source>Failed</source>
        <translation>فشل</translation>
    </message>
    <message>
        <source>Canceled</source>
        <translation>ملغى</translation>
    </message>
    <message>
        <source>Waiting to retry</source>
        <translation>بانتظار إعادة المحاولة</translation>
    </message>
    <message>
        <source>Verifying</source>
        <translation>جارٍ التحقق</translation>
    </message>
    <message>
        <source>Waiting for space</source>
        <translation>في انتظار مساحة</translation>
    </message>
    <message>
        <source>Waiting for sign-in</source>
        <translation>في انتظار تسجيل الدخول</translation>
    </message>
</context>
<context>
    <name>TransfersPage</name>
    <message>
        <source>&amp;Download folder:</source>
        <translation>مجلد ال&amp;تنزيلات:</translation>
    </message>
    <message>
        <source>Downloads at &amp;once:</source>
        <translation>التنزيلات في آن &amp;واحد:</translation>
    </message>
    <message>
        <source>&amp;Uploads at once:</source>
        <translation>عمليات ال&amp;رفع في آن واحد:</translation>
    </message>
    <message>
        <source>Download &amp;limit:</source>
        <translation>&amp;حد التنزيل:</translation>
    </message>
    <message>
        <source>Upload l&amp;imit:</source>
        <translation>ح&amp;د الرفع:</translation>
    </message>
    <message>
        <source>Download folder</source>
        <translation>مجلد التنزيلات</translation>
    </message>
    <message>
        <source>Choose the download folder</source>
        <translation>اختيار مجلد التنزيلات</translation>
    </message>
    <message>
        <source>Downloads at once</source>
        <translation>التنزيلات في آن واحد</translation>
    </message>
    <message>
        <source>Uploads at once</source>
        <translation>عمليات الرفع في آن واحد</translation>
    </message>
    <message>
        <source>Download limit</source>
        <translation>حد التنزيل</translation>
    </message>
    <message>
        <source>Upload limit</source>
        <translation>حد الرفع</translation>
    </message>
    <message>
        <source>unlimited (e.g. {fast} or {slow})</source>
        <extracomment>the placeholder of a bandwidth limit field; {fast} and {slow} are speeds written as the app writes them: &quot;2 Mbit/s&quot;, &quot;500 kbit/s&quot;</extracomment>
        <translation>بلا حد (مثلاً {fast} أو {slow})</translation>
    </message>
    <message>
        <source>Weekly schedule</source>
        <translation>الجدول الأسبوعي</translation>
    </message>
    <message>
        <source>In these periods their limits apply instead of the ones above (the first period that covers a moment wins).</source>
        <translation>في هذه الفترات تُطبَّق حدودها بدلاً من الحدود أعلاه (تُعتمد أول فترة تشمل اللحظة).</translation>
    </message>
    <message>
        <source>Weekly bandwidth schedule</source>
        <translation>الجدول الأسبوعي لعرض النطاق</translation>
    </message>
    <message>
        <source>Add period…</source>
        <translation>إضافة فترة…</translation>
    </message>
    <message>
        <source>Edit…</source>
        <translation>تعديل…</translation>
    </message>
    <message>
        <source>Remove</source>
        <translation>حذف</translation>
    </message>
    <message>
        <source>Move u&amp;p</source>
        <translation>نقل لأ&amp;على</translation>
    </message>
    <message>
        <source>Move do&amp;wn</source>
        <translation>نقل لأ&amp;سفل</translation>
    </message>
    <message>
        <source>Choose a folder for the downloads.</source>
        <translation>اختر مجلداً للتنزيلات.</translation>
    </message>
    <message>
        <source>Give the full path of the folder.</source>
        <translation>أدخل المسار الكامل للمجلد.</translation>
    </message>
    <message>
        <source>This folder does not exist, or cannot be reached.</source>
        <translation>هذا المجلد غير موجود أو لا يمكن الوصول إليه.</translation>
    </message>
    <message>
        <source>ALU Desk cannot write in this folder ({why}).</source>
        <translation>لا يستطيع ALU Desk الكتابة في هذا المجلد ({why}).</translation>
    </message>
</context>
<context>
    <name>TransfersPanel</name>
    <message>
        <source>Transfer commands</source>
        <translation>أوامر النقل</translation>
    </message>
    <message>
        <source>Transfers</source>
        <translation>عمليات النقل</translation>
    </message>
    <message>
        <source>Downloads and uploads in queue order; drag rows, or press Alt+Up or Alt+Down, to reorder them</source>
        <translation>التنزيلات وعمليات الرفع بترتيب قائمة الانتظار؛ اسحب الصفوف، أو اضغط Alt+↑ أو Alt+↓، لإعادة ترتيبها</translation>
    </message>
    <message>
        <source>&amp;Show:</source>
        <translation>ع&amp;رض:</translation>
    </message>
    <message>
        <source>Show transfers</source>
        <translation>عرض عمليات النقل</translation>
    </message>
    <message>
        <source>All</source>
        <translation>الكل</translation>
    </message>
    <message>
        <source>Active</source>
        <translation>الجارية</translation>
    </message>
    <message>
        <source>Finished</source>
        <translation>المكتملة</translation>
    </message>
    <message>
        <source>Failed</source>
        <translation>الفاشلة</translation>
    </message>
    <message>
        <source>&amp;Limit:</source>
        <translation>&amp;الحدّ:</translation>
    </message>
    <message>
        <source>Could not read the queue: {error}</source>
        <translation>تعذّرت قراءة قائمة الانتظار: {error}</translation>
    </message>
    <message>
        <source>Could not pause: {error}</source>
        <translation>تعذّر الإيقاف المؤقت: {error}</translation>
    </message>
    <message>
        <source>Could not resume: {error}</source>
        <translation>تعذّر الاستئناف: {error}</translation>
    </message>
    <message>
        <source>Could not retry: {error}</source>
        <translation>تعذّرت إعادة المحاولة: {error}</translation>
    </message>
    <message>
        <source>Could not pause all transfers: {error}</source>
        <translation>تعذّر إيقاف جميع عمليات النقل مؤقتًا: {error}</translation>
    </message>
    <message>
        <source>Could not resume all transfers: {error}</source>
        <translation>تعذّر استئناف جميع عمليات النقل: {error}</translation>
    </message>
    <message>
        <source>Cancel transfers</source>
        <translation>إلغاء عمليات النقل</translation>
    </message>
    <message>
        <source>Cancel “{name}”?</source>
        <translation>هل تريد إلغاء «{name}»؟</translation>
    </message>
    <message numerus="yes">
        <source>Cancel %Ln transfers?</source>
        <translation>
            <numerusform>هل تريد إلغاء %Ln من عمليات النقل؟</numerusform>
            <numerusform>هل تريد إلغاء عملية نقل واحدة؟</numerusform>
            <numerusform>هل تريد إلغاء عمليتَي نقل؟</numerusform>
            <numerusform>هل تريد إلغاء %Ln عمليات نقل؟</numerusform>
            <numerusform>هل تريد إلغاء %Ln عملية نقل؟</numerusform>
            <numerusform>هل تريد إلغاء %Ln عملية نقل؟</numerusform>
        </translation>
    </message>
    <message>
        <source>A canceled download loses the part already fetched.</source>
        <translation>يفقد التنزيل الملغى الجزءَ الذي نُزِّل منه.</translation>
    </message>
    <message>
        <source>Cancel transfer</source>
        <translation>إلغاء النقل</translation>
    </message>
    <message>
        <source>Don’t cancel</source>
        <translation>عدم الإلغاء</translation>
    </message>
    <message>
        <source>Could not cancel: {error}</source>
        <translation>تعذّر الإلغاء: {error}</translation>
    </message>
    <message>
        <source>Could not change the priority: {error}</source>
        <translation>تعذّر تغيير الأولوية: {error}</translation>
    </message>
    <message>
        <source>Could not reorder the queue: {error}</source>
        <translation>تعذّرت إعادة ترتيب قائمة الانتظار: {error}</translation>
    </message>
    <message>
        <source>Speed limit</source>
        <translation>حدّ السرعة</translation>
    </message>
    <message>
        <source>Highest speed for the selected transfers, e.g. 3M or 400 KB/s (empty: none):</source>
        <translation>أقصى سرعة للتحويلات المحددة، مثل ⁦3M⁩ أو ⁦400 KB/s⁩ (فارغ: بلا حد):</translation>
    </message>
    <message>
        <source>Could not set the speed limit: {error}</source>
        <translation>تعذّر ضبط حدّ السرعة: {error}</translation>
    </message>
    <message>
        <source>Could not set the bandwidth limit: {error}</source>
        <translation>تعذّر ضبط حدّ السرعة: {error}</translation>
    </message>
    <message>
        <source>Select a transfer first.</source>
        <translation>اختر عملية نقل أولًا.</translation>
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
        <translation>عاجل جدًا: %1</translation>
    </message>
    <message>
        <source>Urgent: %1</source>
        <translation>عاجل: %1</translation>
    </message>
    <message>
        <source>%1 more flash or urgent items in the feed.</source>
        <translation>مواد عاجلة أخرى في الموجز: %1.</translation>
    </message>
    <message>
        <source>Feed</source>
        <translation>الموجز</translation>
    </message>
    <message>
        <source>Upload finished</source>
        <translation>اكتمل الرفع</translation>
    </message>
    <message>
        <source>Download finished</source>
        <translation>اكتمل التنزيل</translation>
    </message>
    <message numerus="yes">
        <source>%Ln items downloaded</source>
        <translation>
            <numerusform>لم تُنزَّل أي مادة</numerusform>
            <numerusform>نُزِّلت مادة واحدة</numerusform>
            <numerusform>نُزِّلت مادتان</numerusform>
            <numerusform>نُزِّلت %Ln مواد</numerusform>
            <numerusform>نُزِّلت %Ln مادةً</numerusform>
            <numerusform>نُزِّلت %Ln مادة</numerusform>
        </translation>
    </message>
    <message numerus="yes">
        <source>and %Ln more</source>
        <translation>
            <numerusform>ولا غيرها</numerusform>
            <numerusform>ومادة أخرى</numerusform>
            <numerusform>ومادتان أخريان</numerusform>
            <numerusform>و%Ln مواد أخرى</numerusform>
            <numerusform>و%Ln مادةً أخرى</numerusform>
            <numerusform>و%Ln مادة أخرى</numerusform>
        </translation>
    </message>
    <message>
        <source>Rule: %1</source>
        <translation>القاعدة: %1</translation>
    </message>
    <message>
        <source>Rules: %1</source>
        <translation>القواعد: %1</translation>
    </message>
    <message>
        <source>Usage restrictions: %1</source>
        <translation>قيود الاستخدام: %1</translation>
    </message>
    <message>
        <source>Usage restrictions on {title}: {restrictions}</source>
        <translation>قيود استخدام «{title}»: {restrictions}</translation>
    </message>
    <message numerus="yes">
        <source>%Ln more items with usage restrictions</source>
        <translation>
            <numerusform>لا مواد أخرى ذات قيود استخدام</numerusform>
            <numerusform>مادة أخرى ذات قيود استخدام</numerusform>
            <numerusform>مادتان أخريان ذواتا قيود استخدام</numerusform>
            <numerusform>%Ln مواد أخرى ذات قيود استخدام</numerusform>
            <numerusform>%Ln مادةً أخرى ذات قيود استخدام</numerusform>
            <numerusform>%Ln مادة أخرى ذات قيود استخدام</numerusform>
        </translation>
    </message>
    <message>
        <source>Withdrawn by the agency: %1</source>
        <translation>سحبتها الوكالة: %1</translation>
    </message>
    <message>
        <source>Its download was canceled.</source>
        <translation>أُلغي تنزيلها.</translation>
    </message>
    <message>
        <source>Do not use it; its files are marked in the Library.</source>
        <translation>لا تستخدمها؛ ملفاتها معلَّمة في المكتبة.</translation>
    </message>
    <message numerus="yes">
        <source>%Ln items withdrawn by the agency</source>
        <translation>
            <numerusform>لم تسحب الوكالة أي مادة</numerusform>
            <numerusform>سحبت الوكالة مادة واحدة</numerusform>
            <numerusform>سحبت الوكالة مادتين</numerusform>
            <numerusform>سحبت الوكالة %Ln مواد</numerusform>
            <numerusform>سحبت الوكالة %Ln مادةً</numerusform>
            <numerusform>سحبت الوكالة %Ln مادة</numerusform>
        </translation>
    </message>
    <message>
        <source>{title}: {reason}</source>
        <translation>{title}: {reason}</translation>
    </message>
    <message>
        <source>Do not use them; they are marked in the Library.</source>
        <translation>لا تستخدمها؛ إنها معلَّمة في المكتبة.</translation>
    </message>
    <message>
        <source>Corrected by the agency: %1</source>
        <translation>صحّحتها الوكالة: %1</translation>
    </message>
    <message>
        <source>Usage restrictions now: %1</source>
        <translation>قيود الاستخدام الآن: %1</translation>
    </message>
    <message>
        <source>Usage restrictions lifted.</source>
        <translation>رُفعت قيود الاستخدام.</translation>
    </message>
    <message numerus="yes">
        <source>Usage restrictions of %Ln items corrected</source>
        <translation>
            <numerusform>لم تُصحَّح قيود أي مادة</numerusform>
            <numerusform>صُحّحت قيود استخدام مادة واحدة</numerusform>
            <numerusform>صُحّحت قيود استخدام مادتين</numerusform>
            <numerusform>صُحّحت قيود استخدام %Ln مواد</numerusform>
            <numerusform>صُحّحت قيود استخدام %Ln مادةً</numerusform>
            <numerusform>صُحّحت قيود استخدام %Ln مادة</numerusform>
        </translation>
    </message>
    <message>
        <source>Upload failed</source>
        <translation>فشل الرفع</translation>
    </message>
    <message>
        <source>Download failed</source>
        <translation>فشل التنزيل</translation>
    </message>
    <message>
        <source>{name}: {problem}</source>
        <translation>{name}: {problem}</translation>
    </message>
    <message>
        <source>Show ALU Desk</source>
        <translation>إظهار ALU Desk</translation>
    </message>
    <message>
        <source>Pause all transfers</source>
        <translation>إيقاف كل عمليات النقل مؤقتًا</translation>
    </message>
    <message>
        <source>Resume all transfers</source>
        <translation>استئناف كل عمليات النقل</translation>
    </message>
    <message>
        <source>Quit</source>
        <translation>إنهاء</translation>
    </message>
</context>
<context>
    <name>Unavailable</name>
    <message>
        <source>This part of ALU Desk could not be opened (%1). The rest works; the log has the details.</source>
        <translation>تعذّر فتح هذا الجزء من ALU Desk (%1). باقي التطبيق يعمل؛ التفاصيل في السجل.</translation>
    </message>
</context>
<context>
    <name>Upload</name>
    <message>
        <source>Upload</source>
        <translation>رفع</translation>
    </message>
    <message>
        <source>There is no video file to upload in what was dropped.</source>
        <translation>لا يوجد ملف فيديو للرفع بين العناصر المُفلَتة.</translation>
    </message>
    <message>
        <source>What was dropped could not be read ({reason}).</source>
        <translation>تعذّرت قراءة ما أُفلت هنا ({reason}).</translation>
    </message>
    <message>
        <source>{name} is not a video file.</source>
        <translation>{name} ليس ملف فيديو.</translation>
    </message>
    <message>
        <source>{name} could not be read ({reason}).</source>
        <translation>تعذّرت قراءة {name} ({reason}).</translation>
    </message>
    <message>
        <source>{name} is not a regular file (a pipe or a device).</source>
        <translation>{name} ليس ملفًا عاديًا (أنبوب أو جهاز).</translation>
    </message>
    <message>
        <source>{url} is not a file on this computer.</source>
        <translation>{url} ليس ملفاً على هذا الحاسوب.</translation>
    </message>
    <message>
        <source>The folder {name} has no video files.</source>
        <translation>لا يحتوي المجلد {name} على أي ملف فيديو.</translation>
    </message>
    <message>
        <source>{name} was not found.</source>
        <translation>تعذّر العثور على {name}.</translation>
    </message>
</context>
<context>
    <name>UploadDialog</name>
    <message>
        <source>Upload {name}</source>
        <translation>رفع {name}</translation>
    </message>
    <message>
        <source>Files to upload</source>
        <translation>الملفات المراد رفعها</translation>
    </message>
    <message>
        <source>&amp;Apply to all files</source>
        <translation>تطبيق على كل المل&amp;فات</translation>
    </message>
    <message>
        <source>&amp;Upload</source>
        <translation>&amp;رفع</translation>
    </message>
    <message>
        <source>Send to the hub</source>
        <translation>إرسال إلى المركز</translation>
    </message>
    <message>
        <source>Preparing the upload</source>
        <translation>تجهيز الرفع</translation>
    </message>
    <message>
        <source>Left out:</source>
        <translation>مستبعَد:</translation>
    </message>
    <message>
        <source>What was dropped could not be read ({reason}).</source>
        <translation>تعذّرت قراءة ما أُفلت هنا ({reason}).</translation>
    </message>
    <message>
        <source>The details you typed for {name} before ALU Desk closed are back.</source>
        <translation>عادت التفاصيل التي أدخلتها لـ⁨{name}⁩ قبل إغلاق ALU Desk.</translation>
    </message>
    <message numerus="yes">
        <source>The details you typed before ALU Desk closed are back for %Ln files.</source>
        <translation>
            <numerusform>عادت التفاصيل التي أدخلتها قبل إغلاق ALU Desk للملفات (%Ln).</numerusform>
            <numerusform>عادت التفاصيل التي أدخلتها قبل إغلاق ALU Desk للملف.</numerusform>
            <numerusform>عادت التفاصيل التي أدخلتها قبل إغلاق ALU Desk للملفين.</numerusform>
            <numerusform>عادت التفاصيل التي أدخلتها قبل إغلاق ALU Desk للملفات (%Ln).</numerusform>
            <numerusform>عادت التفاصيل التي أدخلتها قبل إغلاق ALU Desk للملفات (%Ln).</numerusform>
            <numerusform>عادت التفاصيل التي أدخلتها قبل إغلاق ALU Desk للملفات (%Ln).</numerusform>
        </translation>
    </message>
    <message>
        <source>{name} is still being read; try again in a moment.</source>
        <translation>ما زالت قراءة {name} جارية؛ حاول مرة أخرى بعد لحظة.</translation>
    </message>
    <message>
        <source>{name} changed since it was read (is it still being copied?); it is being read again.</source>
        <translation>تغيّر {name} منذ قراءته (هل ما زال نسخه جاريًا؟)؛ تجري قراءته من جديد.</translation>
    </message>
    <message numerus="yes">
        <source>The hub would refuse %Ln files: {names}. Remove them from the list.</source>
        <translation>
            <numerusform>سيرفض المركز الملفات (%Ln): ⁨{names}⁩. أزِلها من القائمة.</numerusform>
            <numerusform>سيرفض المركز الملف: ⁨{names}⁩. أزِله من القائمة.</numerusform>
            <numerusform>سيرفض المركز الملفين: ⁨{names}⁩. أزِلهما من القائمة.</numerusform>
            <numerusform>سيرفض المركز الملفات (%Ln): ⁨{names}⁩. أزِلها من القائمة.</numerusform>
            <numerusform>سيرفض المركز الملفات (%Ln): ⁨{names}⁩. أزِلها من القائمة.</numerusform>
            <numerusform>سيرفض المركز الملفات (%Ln): ⁨{names}⁩. أزِلها من القائمة.</numerusform>
        </translation>
    </message>
    <message>
        <source>Check {name}: {problem}</source>
        <translation>راجع {name}: {problem}</translation>
    </message>
    <message>
        <source>Reading the files first…</source>
        <translation>تجري قراءة الملفات أولًا…</translation>
    </message>
    <message>
        <source>Preparing…</source>
        <translation>جارٍ التجهيز…</translation>
    </message>
    <message>
        <source>Nothing was sent: these files were sent already.</source>
        <translation>لم يُرسَل شيء: هذه الملفات أُرسلت من قبل.</translation>
    </message>
    <message>
        <source>Nothing was sent: this file was sent already.</source>
        <translation>لم يُرسَل شيء: هذا الملف أُرسل من قبل.</translation>
    </message>
    <message>
        <source>{name} was already sent from this workstation on {when} as “{title}”.</source>
        <translation>أُرسل ⁨{name}⁩ من محطة العمل هذه في ⁨{when}⁩ بعنوان «⁨{title}⁩».</translation>
    </message>
    <message>
        <source>{name} is already being sent from this workstation as “{title}” (see Transfers).</source>
        <translation>يجري إرسال ⁨{name}⁩ من محطة العمل هذه بعنوان «⁨{title}⁩» (انظر عمليات النقل).</translation>
    </message>
    <message>
        <source>{name} holds the same footage as {other}, above it.</source>
        <translation>يحوي ⁨{name}⁩ اللقطات نفسها التي في ⁨{other}⁩ أعلاه.</translation>
    </message>
    <message>
        <source>Upload</source>
        <translation>رفع</translation>
    </message>
    <message numerus="yes">
        <source>Send %Ln files again? Each would make another item in every feed.</source>
        <translation>
            <numerusform>أتعيد إرسال الملفات (%Ln)؟ سيصنع كل منها مادة أخرى في كل موجز.</numerusform>
            <numerusform>أتعيد إرسال الملف؟ سيصنع مادة أخرى في كل موجز.</numerusform>
            <numerusform>أتعيد إرسال الملفين؟ سيصنع كل منهما مادة أخرى في كل موجز.</numerusform>
            <numerusform>أتعيد إرسال الملفات (%Ln)؟ سيصنع كل منها مادة أخرى في كل موجز.</numerusform>
            <numerusform>أتعيد إرسال الملفات (%Ln)؟ سيصنع كل منها مادة أخرى في كل موجز.</numerusform>
            <numerusform>أتعيد إرسال الملفات (%Ln)؟ سيصنع كل منها مادة أخرى في كل موجز.</numerusform>
        </translation>
    </message>
    <message>
        <source>Send this file again? It would make another item in every feed.</source>
        <translation>أتعيد إرسال هذا الملف؟ سيصنع مادة أخرى في كل موجز.</translation>
    </message>
    <message>
        <source>&amp;Send again</source>
        <translation>إعادة ال&amp;إرسال</translation>
    </message>
    <message>
        <source>&amp;Leave them out</source>
        <translation>ا&amp;ستبعدها</translation>
    </message>
    <message>
        <source>&amp;Leave it out</source>
        <translation>ا&amp;ستبعده</translation>
    </message>
    <message>
        <source>Adding to the queue…</source>
        <translation>جارٍ الإضافة إلى قائمة الانتظار…</translation>
    </message>
    <message>
        <source>{name} changed while it was read: it is still being copied. Wait until the copy has finished, then press Upload again.</source>
        <translation>تغيّر {name} أثناء قراءته: ما زال نسخه جاريًا. انتظر حتى ينتهي النسخ، ثم اضغط «رفع» مرة أخرى.</translation>
    </message>
    <message>
        <source>{name} can no longer be read ({reason}).</source>
        <translation>لم يعد من الممكن قراءة {name} ({reason}).</translation>
    </message>
    <message>
        <source>{name}: {problem}</source>
        <translation>{name}: {problem}</translation>
    </message>
    <message>
        <source>Discard the details you typed for {name}?</source>
        <translation>أتتجاهل التفاصيل التي أدخلتها لـ⁨{name}⁩؟</translation>
    </message>
    <message numerus="yes">
        <source>Discard the details you typed for %Ln files?</source>
        <translation>
            <numerusform>أتتجاهل التفاصيل التي أدخلتها للملفات (%Ln)؟</numerusform>
            <numerusform>أتتجاهل التفاصيل التي أدخلتها للملف؟</numerusform>
            <numerusform>أتتجاهل التفاصيل التي أدخلتها للملفين؟</numerusform>
            <numerusform>أتتجاهل التفاصيل التي أدخلتها للملفات (%Ln)؟</numerusform>
            <numerusform>أتتجاهل التفاصيل التي أدخلتها للملفات (%Ln)؟</numerusform>
            <numerusform>أتتجاهل التفاصيل التي أدخلتها للملفات (%Ln)؟</numerusform>
        </translation>
    </message>
    <message>
        <source>&amp;Discard</source>
        <translation>&amp;تجاهل</translation>
    </message>
    <message>
        <source>&amp;Keep editing</source>
        <translation>متا&amp;بعة التحرير</translation>
    </message>
    <message>
        <source>Could not queue the upload — {problems}</source>
        <translation>تعذّرت إضافة الرفع إلى قائمة الانتظار — {problems}</translation>
    </message>
    <message numerus="yes">
        <source>Upload %Ln files</source>
        <translation>
            <numerusform>رفع الملفات (%Ln)</numerusform>
            <numerusform>رفع ملف واحد</numerusform>
            <numerusform>رفع ملفين</numerusform>
            <numerusform>رفع %Ln ملفات</numerusform>
            <numerusform>رفع %Ln ملفًا</numerusform>
            <numerusform>رفع %Ln ملف</numerusform>
        </translation>
    </message>
    <message numerus="yes">
        <source>The shared fields now read the same for all %Ln files.</source>
        <translation>
            <numerusform>أصبحت الحقول المشتركة موحّدة في كل الملفات (%Ln).</numerusform>
            <numerusform>أصبحت الحقول المشتركة موحّدة في الملف.</numerusform>
            <numerusform>أصبحت الحقول المشتركة موحّدة في الملفين كليهما.</numerusform>
            <numerusform>أصبحت الحقول المشتركة موحّدة في الملفات الـ%Ln كلها.</numerusform>
            <numerusform>أصبحت الحقول المشتركة موحّدة في الملفات الـ%Ln كلها.</numerusform>
            <numerusform>أصبحت الحقول المشتركة موحّدة في الملفات الـ%Ln كلها.</numerusform>
        </translation>
    </message>
    <message>
        <source>{problem} The hub would refuse it: remove it from the list.</source>
        <translation>{problem} سيرفضه المركز: أزِله من القائمة.</translation>
    </message>
    <message>
        <source>Copy the dateline, language, category, region, country, priority and restrictions to all files</source>
        <translation>نسخ المكان والتاريخ واللغة والباب والمنطقة والبلد والأولوية والقيود إلى كل الملفات</translation>
    </message>
    <message>
        <source>Remo&amp;ve from the list</source>
        <translation>&amp;إزالة من القائمة</translation>
    </message>
    <message>
        <source>{problem} The hub would refuse it.</source>
        <translation>{problem} سيرفضه المركز.</translation>
    </message>
    <message>
        <source>Could not prepare the upload: {error}</source>
        <translation>تعذّر تجهيز الرفع: {error}</translation>
    </message>
    <message>
        <source>Preparing… %p%</source>
        <translation>جارٍ التجهيز… %p%</translation>
    </message>
</context>
<context>
    <name>UploadForm</name>
    <message>
        <source>&amp;Title:</source>
        <translation>ال&amp;عنوان:</translation>
    </message>
    <message>
        <source>S&amp;lug:</source>
        <translation>ال&amp;كلمة الدالة:</translation>
    </message>
    <message>
        <source>&amp;Dateline:</source>
        <translation>&amp;مكان الخبر:</translation>
    </message>
    <message>
        <source>Lan&amp;guage:</source>
        <translation>الل&amp;غة:</translation>
    </message>
    <message>
        <source>Cat&amp;egory:</source>
        <translation>الت&amp;صنيف:</translation>
    </message>
    <message>
        <source>Regi&amp;on:</source>
        <translation>المن&amp;طقة:</translation>
    </message>
    <message>
        <source>Countr&amp;y:</source>
        <translation>ال&amp;بلد:</translation>
    </message>
    <message>
        <source>&amp;Priority:</source>
        <translation>الأ&amp;ولوية:</translation>
    </message>
    <message>
        <source>&amp;Restrictions:</source>
        <translation>ال&amp;قيود:</translation>
    </message>
    <message>
        <source>&amp;Script:</source>
        <translation>ال&amp;نص:</translation>
    </message>
    <message>
        <source>S&amp;hotlist:</source>
        <translation>قائمة ال&amp;لقطات:</translation>
    </message>
    <message>
        <source>Re&amp;corded:</source>
        <translation>&amp;تاريخ التصوير:</translation>
    </message>
    <message>
        <source>Tick when you know when the footage was shot</source>
        <translation>ضع علامة إذا كنت تعرف متى صُوّرت اللقطات</translation>
    </message>
    <message>
        <source>Recorded date</source>
        <translation>تاريخ التصوير</translation>
    </message>
    <message>
        <source>Thumbnail</source>
        <translation>صورة مصغّرة</translation>
    </message>
    <message>
        <source>e.g. KENYA-FLOODS</source>
        <translation>مثال: KENYA-FLOODS</translation>
    </message>
    <message>
        <source>e.g. NAIROBI, Kenya</source>
        <translation>مثال: نيروبي، كينيا</translation>
    </message>
    <message>
        <source>two letters, e.g. KE</source>
        <translation>حرفان، مثال: KE</translation>
    </message>
    <message>
        <source>e.g. No access Kenya</source>
        <translation>مثال: يُحظر البث في كينيا</translation>
    </message>
    <message>
        <source>{count} of {limit} characters</source>
        <extracomment>under the script or shot list once it nears its limit: &quot;18,500 of 20,000 characters&quot;</extracomment>
        <translation>عدد الأحرف: {count} من {limit}</translation>
    </message>
    <message>
        <source>{name} — reading the file…</source>
        <translation>{name} — جارٍ قراءة الملف…</translation>
    </message>
    <message>
        <source>{duration} long</source>
        <translation>المدة {duration}</translation>
    </message>
    <message>
        <source>no sound</source>
        <translation>بلا صوت</translation>
    </message>
    <message numerus="yes">
        <source>This is too long: %Ln characters, at most {limit}.</source>
        <extracomment>under a text over its limit; %Ln is its length: &quot;This is too long: 20,001 characters, at most 20,000.&quot;</extracomment>
        <translation>
            <numerusform>النص طويل جدًا: عدد الأحرف %Ln، والحد الأقصى {limit}.</numerusform>
            <numerusform>النص طويل جدًا: عدد الأحرف %Ln، والحد الأقصى {limit}.</numerusform>
            <numerusform>النص طويل جدًا: عدد الأحرف %Ln، والحد الأقصى {limit}.</numerusform>
            <numerusform>النص طويل جدًا: عدد الأحرف %Ln، والحد الأقصى {limit}.</numerusform>
            <numerusform>النص طويل جدًا: عدد الأحرف %Ln، والحد الأقصى {limit}.</numerusform>
            <numerusform>النص طويل جدًا: عدد الأحرف %Ln، والحد الأقصى {limit}.</numerusform>
        </translation>
    </message>
    <message>
        <source>The script, shot list and restrictions together are more than the hub takes ({size} KiB of at most {limit} KiB once encoded; Arabic letters and emoji count for more than one): shorten this text.</source>
        <translation>النص وقائمة اللقطات والقيود مجتمعةً أكثر مما يقبله المركز ({size} كيلوبايت من {limit} كيلوبايت على الأكثر بعد الترميز؛ الحروف العربية والرموز التعبيرية تُحسب بأكثر من واحد): اختصر هذا النص.</translation>
    </message>
    <message>
        <source>The recording date is in the future; check it (and the camera&apos;s clock).</source>
        <translation>تاريخ التسجيل في المستقبل؛ تحقّق منه (ومن ساعة الكاميرا).</translation>
    </message>
    <message>
        <source>The recording date is before 1900.</source>
        <translation>تاريخ التسجيل قبل عام 1900.</translation>
    </message>
    <message>
        <source>A title is needed.</source>
        <translation>العنوان مطلوب.</translation>
    </message>
    <message>
        <source>The country is a two-letter code, like KE or SN.</source>
        <translation>يُكتب البلد برمز من حرفين، مثل KE أو SN.</translation>
    </message>
    <message>
        <source>The recording date is not a date.</source>
        <translation>تاريخ التصوير غير صالح.</translation>
    </message>
    <message>
        <source>The language must be English, French or Arabic.</source>
        <translation>يجب أن تكون اللغة الإنجليزية أو الفرنسية أو العربية.</translation>
    </message>
    <message>
        <source>The priority must be flash, urgent or routine.</source>
        <translation>يجب أن تكون الأولوية: عاجل جدًا أو عاجل أو عادي.</translation>
    </message>
    <message>
        <source>The recording date is in the future (the hub&apos;s clock says {hub_now}); this computer&apos;s clock is {how_long} ahead of the hub&apos;s: check the date, and set the clock right in the system&apos;s date and time settings.</source>
        <translation>تاريخ التسجيل في المستقبل (ساعة المركز تشير إلى {hub_now})؛ ساعة هذا الحاسوب متقدمة على ساعة المركز بمقدار {how_long}: تحقّق من التاريخ، واضبط الساعة في إعدادات التاريخ والوقت في النظام.</translation>
    </message>
    <message>
        <source>The recording date is in the future (the hub&apos;s clock says {hub_now}); this computer&apos;s clock is {how_long} behind the hub&apos;s: check the date, and set the clock right in the system&apos;s date and time settings.</source>
        <translation>تاريخ التسجيل في المستقبل (ساعة المركز تشير إلى {hub_now})؛ ساعة هذا الحاسوب متأخرة عن ساعة المركز بمقدار {how_long}: تحقّق من التاريخ، واضبط الساعة في إعدادات التاريخ والوقت في النظام.</translation>
    </message>
</context>
<context>
    <name>WatchErrorsModel</name>
    <message>
        <source>File</source>
        <translation>الملف</translation>
    </message>
    <message>
        <source>Problem</source>
        <translation>المشكلة</translation>
    </message>
    <message>
        <source>When</source>
        <translation>الوقت</translation>
    </message>
</context>
<context>
    <name>_Ago</name>
    <message numerus="yes">
        <source>%Ln d ago</source>
        <translation>
            <numerusform>منذ %Ln يوم</numerusform>
            <numerusform>منذ يوم</numerusform>
            <numerusform>منذ يومين</numerusform>
            <numerusform>منذ %Ln أيام</numerusform>
            <numerusform>منذ %Ln يومًا</numerusform>
            <numerusform>منذ %Ln يوم</numerusform>
        </translation>
    </message>
</context>
</TS>
