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
        <source>Highest speed for downloads and for uploads, each</source>
        <translation>أقصى سرعة للتنزيل وللرفع، لكلٍّ منهما</translation>
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
        <translation>أقصى سرعة، مثلًا 3M (ميغابت في الثانية) أو 400 KB/s:</translation>
    </message>
    <message>
        <source>“{text}” is not a speed; write e.g. 3M or 400 KB/s.</source>
        <translation>«{text}» ليست سرعة صالحة؛ اكتب مثلًا 3M أو 400 KB/s.</translation>
    </message>
</context>
<context>
    <name>Formats</name>
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
        <source>Downloads and uploads in queue order; drag rows to reorder them</source>
        <translation>التنزيلات وعمليات الرفع بترتيب قائمة الانتظار؛ اسحب الصفوف لإعادة ترتيبها</translation>
    </message>
    <message>
        <source>&amp;Show:</source>
        <translation>&amp;عرض:</translation>
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
    <message>
        <source>Cancel {count} transfers?</source>
        <translation>هل تريد إلغاء {count} من عمليات النقل؟</translation>
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
        <source>Could not set the bandwidth limit: {error}</source>
        <translation>تعذّر ضبط حدّ السرعة: {error}</translation>
    </message>
</context>
</TS>
