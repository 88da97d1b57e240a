"""The pages: sign-in, messages (403, 400) and the statistics page itself."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from ..schemas import MemberStats
from ..stats import LATE_REPORTS, WITHDRAWN_NOT_COUNTED, late_note
from .charts import Row, Series, column_chart, row_chart
from .figures import MONTH_NAMES, Figures, Month
from .markup import Html, join, render

STYLE = """
:root { color-scheme: light; --ink: #1d2733; --muted: #5b6775; --line: #d9dee5;
  --bg: #f4f6f9; --card: #fff; --pushes: #1f5fa8; --downloads: #2a9d8f; --uploads: #e07a1f;
  --uploaders: #7b4fa0; --pledge: #2e8b57; --unmet: #c8553d; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 "DejaVu Sans", "Segoe UI", Arial, sans-serif;
  color: var(--ink); background: var(--bg); }
header { display: flex; flex-wrap: wrap; align-items: center; gap: 12px 24px;
  padding: 10px 24px; background: #12304f; color: #fff; }
header h1 { font-size: 17px; margin: 0; font-weight: 600; }
header h1 span { font-weight: 400; opacity: .8; }
header form, header nav { display: flex; align-items: center; gap: 8px; margin: 0; }
header a { color: #fff; }
header .who { margin-left: auto; display: flex; align-items: center; gap: 10px; }
select, button, input { font: inherit; }
select, input { padding: 4px 6px; border: 1px solid var(--line); border-radius: 4px; }
button { padding: 4px 12px; border: 1px solid #9fb3c8; border-radius: 4px; background: #e8eef5;
  color: var(--ink); cursor: pointer; }
header button { background: transparent; color: #fff; border-color: #7f9bb8; }
a.button { padding: 4px 12px; border: 1px solid #7f9bb8; border-radius: 4px;
  text-decoration: none; }
main { padding: 16px 24px 32px; max-width: 1400px; }
h2 { font-size: 16px; margin: 22px 0 10px; }
h2 small { font-weight: 400; color: var(--muted); }
main > h2:first-child { margin-top: 4px; }
.tiles { display: grid; grid-template-columns: repeat(5, minmax(150px, 1fr)); gap: 12px; }
.tile { background: var(--card); border: 1px solid var(--line); border-radius: 6px;
  padding: 10px 14px; border-top: 4px solid var(--c, var(--line)); }
.tile b { display: block; font-size: 26px; line-height: 1.2; }
.tile span { color: var(--muted); }
.tile.pushes { --c: var(--pushes); } .tile.downloads { --c: var(--downloads); }
.tile.uploads { --c: var(--uploads); } .tile.uploaders { --c: var(--uploaders); }
.tile.pledge { --c: var(--pledge); }
.grid2 { display: grid; grid-template-columns: 2fr 1fr; gap: 12px; align-items: start; }
.grid2.even { grid-template-columns: 1fr 1fr; }
.card { background: var(--card); border: 1px solid var(--line); border-radius: 6px;
  padding: 10px 12px; }
.card h3 { font-size: 13px; margin: 0 0 4px; color: var(--muted); font-weight: 600; }
svg.chart { width: 100%; height: auto; display: block; font-size: 11px; }
svg .grid { stroke: #e6e9ee; } svg .tick, svg .cat, svg .value, svg .legend { fill: var(--muted); }
svg .sel { fill: #eef3fa; } svg .band { fill: #f6f8fa; } svg .name { fill: var(--ink); }
svg .note { fill: var(--muted); } svg .note.met { fill: var(--pledge); font-weight: 600; }
svg .note.unmet { fill: var(--unmet); }
svg .goal { stroke: var(--ink); stroke-dasharray: 3 3; } svg .goal-label { fill: var(--ink); }
.s-pushes { fill: var(--pushes); } .s-downloads { fill: var(--downloads); }
.s-uploads { fill: var(--uploads); } .s-uploaders { fill: var(--uploaders); }
.s-pledge { fill: var(--pledge); } .s-days.met { fill: var(--pledge); }
.s-days.unmet { fill: var(--unmet); } .key.s-days { fill: var(--pledge); }
table { border-collapse: collapse; width: 100%; background: var(--card);
  border: 1px solid var(--line); }
th, td { padding: 5px 10px; border-bottom: 1px solid var(--line); text-align: left; }
th { background: #eef1f5; font-weight: 600; }
td.n, th.n { text-align: right; font-variant-numeric: tabular-nums; }
td small { color: var(--muted); }
td small.off { font-style: italic; }
p.asof { color: var(--muted); margin: 10px 0 0; }
.met { color: var(--pledge); font-weight: 600; } .unmet { color: var(--unmet); }
.box { max-width: 380px; margin: 10vh auto; background: var(--card); padding: 22px 26px;
  border: 1px solid var(--line); border-radius: 8px; }
.box h1 { font-size: 18px; margin: 0 0 14px; }
.box label { display: block; margin: 10px 0 4px; }
.box input { width: 100%; }
.box button { margin-top: 16px; }
.error { color: var(--unmet); }
@media (max-width: 900px) { .tiles { grid-template-columns: repeat(2, 1fr); }
  .grid2, .grid2.even { grid-template-columns: 1fr; } }
"""

#: Three bars: the page's icon (served by the hub, so that the browser asks for no favicon.ico).
FAVICON = (
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16">'
    '<rect width="16" height="16" rx="3" fill="#12304f"/>'
    '<rect x="3" y="8" width="2.5" height="5" fill="#2a9d8f"/>'
    '<rect x="6.75" y="4" width="2.5" height="9" fill="#e07a1f"/>'
    '<rect x="10.5" y="6" width="2.5" height="7" fill="#fff"/></svg>'
)

MONTHLY = (
    Series("pushes", "Pushes"),
    Series("downloads", "Downloads"),
    Series("uploads", "Uploads"),
)
MEMBERS_MONTHLY = (
    Series("uploaders", "Uploading members"),
    Series("pledge", "Meeting the pledge"),
)
PLEDGE = (Series("days", "Days with an upload"),)
ACTIVITY = (Series("downloads", "Downloads"), Series("uploads", "Uploads"))


def document(title: str, body: Html, nonce: str) -> Html:
    return render(
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta name="referrer" content="same-origin">'
        '<link rel="icon" href="/stats/favicon.svg" type="image/svg+xml">'
        "<title>{title}</title>"
        '<style nonce="{nonce}">{style}</style></head><body>{body}</body></html>\n',
        title=title,
        nonce=nonce,
        style=Html(STYLE),
        body=body,
    )


def sign_in(nonce: str, *, next_url: str, username: str = "", error: str = "") -> Html:
    body = render(
        '<div class="box"><h1>ALU hub · statistics</h1>'
        "<p>Sign in with an agency staff account.</p>{error}"
        '<form method="post" action="/stats/login">'
        '<input type="hidden" name="next" value="{next}">'
        '<label for="username">User name</label>'
        '<input id="username" name="username" value="{username}" autocomplete="username" '
        "required autofocus>"
        '<label for="password">Password</label>'
        '<input id="password" name="password" type="password" '
        'autocomplete="current-password" required>'
        '<button type="submit">Sign in</button></form></div>',
        error=render('<p class="error" role="alert">{e}</p>', e=error) if error else Html(""),
        next=next_url,
        username=username,
    )
    return document("Sign in · ALU hub statistics", body, nonce)


def message(nonce: str, title: str, text: str, *, link: tuple[str, str] | None = None) -> Html:
    body = render(
        '<div class="box"><h1>{title}</h1><p>{text}</p>{link}</div>',
        title=title,
        text=text,
        link=render('<p><a href="{href}">{label}</a></p>', href=link[0], label=link[1])
        if link
        else Html(""),
    )
    return document(f"{title} · ALU hub", body, nonce)


def _num(n: int) -> str:
    return f"{n:,}"


def size(n: int) -> str:
    """Bytes for people: ``3.4 GB`` (powers of 1000, like the app)."""
    value = float(n)
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if value < 1000 or unit == "TB":
            return f"{value:,.0f} {unit}" if unit == "B" else f"{value:,.1f} {unit}"
        value /= 1000
    raise AssertionError("unreachable")


def _header(chosen: Month, months: Sequence[Month], current: Month, who: str) -> Html:
    options = join(
        render(
            '<option value="{v}"{sel}>{label}</option>',
            v=str(m),
            sel=Html(" selected") if m == chosen else Html(""),
            label=m.label,
        )
        for m in months
    )
    prev = chosen.shifted(-1)
    nxt = chosen.shifted(1)
    return render(
        "<header><h1>ALU hub <span>· council statistics</span></h1>"
        '<form method="get" action="/stats"><label for="month">Month</label>'
        '<select id="month" name="month">{options}</select><button type="submit">Show</button>'
        "</form>"
        '<nav><a href="/stats?month={prev}" rel="prev">← {prev_label}</a>{next}'
        '<a class="button" href="/stats.csv?month={month}" download>Download CSV</a></nav>'
        '<div class="who">Signed in as {who}'
        '<form method="post" action="/stats/logout"><button type="submit">Sign out</button>'
        "</form></div></header>",
        options=options,
        prev=str(prev),
        prev_label=prev.short,
        next=render(
            '<a href="/stats?month={m}" rel="next">{label} →</a>', m=str(nxt), label=nxt.short
        )
        if nxt <= current
        else Html(""),
        month=str(chosen),
        who=who,
    )


def _member_name(r: MemberStats) -> str:
    return r.display_name or r.username


def _day(when: dt.datetime, month_length: int = 3) -> str:
    """``8 Dec 2026`` (English month names, as the page's months)."""
    when = when.astimezone(dt.UTC)
    name = MONTH_NAMES[when.month - 1]
    return f"{when.day} {name[:month_length] if month_length else name} {when.year}"


def as_of(when: dt.datetime) -> str:
    """``Figures as of 6 December 2026, 22:09 UTC.``"""
    return f"Figures as of {_day(when, 0)}, {when.astimezone(dt.UTC):%H:%M} UTC."


def disabled_mark(r: MemberStats) -> str:
    """Why a member missed days: ``disabled since 8 Dec 2026``; "" while it is enabled."""
    return f"disabled since {_day(r.disabled_since)}" if r.disabled_since else ""


def _pledge(r: MemberStats) -> tuple[str, str]:
    """The pledge's word and class: met, not met, or not judged (no day it was a member)."""
    if r.meets_pledge is None:
        return "not judged", ""
    return ("met", "met") if r.meets_pledge else ("not met", "unmet")


def stats(
    nonce: str, figures: Figures, *, months: Sequence[Month], current: Month, who: str
) -> Html:
    sel = figures.selected
    st = sel.stats
    period = sel.period
    chosen = period.month
    tiles = render(
        '<section class="tiles" aria-label="Totals">'
        '<div class="tile pushes"><b id="pushes">{pushes}</b><span>pushes</span></div>'
        '<div class="tile downloads"><b id="downloads">{downloads}</b><span>downloads</span></div>'
        '<div class="tile uploads"><b id="uploads">{uploads}</b><span>uploads</span></div>'
        '<div class="tile uploaders"><b id="uploading-members">{uploaders}</b>'
        "<span>uploading members of {members}</span></div>"
        '<div class="tile pledge"><b id="meeting-pledge">{pledge}</b>'
        "<span>of {judged} uploaded every day</span></div></section>",
        pushes=_num(st.pushes),
        downloads=_num(st.downloads),
        uploads=_num(st.uploads),
        uploaders=_num(st.uploading_members),
        members=_num(sel.members),
        judged=_num(sel.judged),
        pledge=_num(sel.meeting_pledge),
    )
    late = late_note(st.downloads, st.downloads_reported_late, "month")
    # the figures are those the hub has heard of so far: a workstation reports its downloads
    # when it is next online, so a past day (a closed month too) can still grow
    asof = render(
        '<p class="asof"><span id="as-of">{as_of}</span> {late}<span id="late-reports">'
        '{late_reports}</span> <span id="withdrawn">{withdrawn}</span></p>',
        as_of=as_of(st.as_of),
        late=render('<span id="late">{t}</span> ', t=late) if late else Html(""),
        late_reports=LATE_REPORTS,
        withdrawn=WITHDRAWN_NOT_COUNTED,
    )
    cats = [m.period.month.short for m in figures.months]
    last = len(figures.months) - 1
    monthly = column_chart(
        "chart-monthly",
        "Pushes, downloads and uploads per month",
        cats,
        MONTHLY,
        [
            [m.stats.pushes for m in figures.months],
            [m.stats.downloads for m in figures.months],
            [m.stats.uploads for m in figures.months],
        ],
        highlight=last,
    )
    members_monthly = column_chart(
        "chart-members",
        "Uploading members and members meeting the pledge per month",
        [m.period.month.short.split()[0] for m in figures.months],
        MEMBERS_MONTHLY,
        [
            [m.stats.uploading_members for m in figures.months],
            [m.meeting_pledge for m in figures.months],
        ],
        highlight=last,
        width=380,
    )
    pledge_rows = [
        Row(
            label=_member_name(r),
            hint=f"{_member_name(r)} ({r.username})",
            values=[r.upload_days],
            note=f"{r.upload_days}/{r.pledge_days} "
            + ("✓ met" if r.meets_pledge else _pledge(r)[0]),
            state=_pledge(r)[1],
            # a member that joined (or left) during the month: judged on its own days
            scale_to=r.pledge_days if r.pledge_days != period.days else None,
        )
        for r in st.members
    ]
    own_days = any(r.pledge_days != period.days for r in st.members)
    pledge = row_chart(
        "chart-pledge",
        f"Days with an upload out of the days each was a member (at most {period.days})"
        if own_days
        else f"Days with an upload out of {period.days}, per member",
        pledge_rows,
        PLEDGE,
        scale_to=period.days,
        goal=(period.days, "pledge: every day"),
        value_labels=False,
    )
    activity = row_chart(
        "chart-activity",
        "Downloads and uploads per member",
        [
            Row(
                label=_member_name(r),
                hint=f"{_member_name(r)} ({r.username})",
                values=[r.downloads, r.uploads],
            )
            for r in st.members
        ],
        ACTIVITY,
    )
    member_rows = join(
        render(
            '<tr data-member="{username}"><td>{name} <small>{username}</small>{off}</td>'
            '<td>{country}</td><td class="n">{downloads}</td><td class="n">{bytes}</td>'
            '<td class="n">{uploads}</td><td class="n">{days}/{period_days}</td>'
            '<td class="{state}">{pledge}</td></tr>',
            username=r.username,
            name=_member_name(r),
            off=render(' <small class="off">{t}</small>', t=disabled_mark(r))
            if r.disabled_since
            else Html(""),
            country=r.country,
            downloads=_num(r.downloads),
            bytes=size(r.bytes_downloaded),
            uploads=_num(r.uploads),
            days=r.upload_days,
            period_days=r.pledge_days,
            state=_pledge(r)[1],
            pledge=_pledge(r)[0],
        )
        for r in st.members
    )
    month_rows = join(
        render(
            '<tr><td><a href="/stats?month={m}">{label}</a></td><td class="n">{pushes}</td>'
            '<td class="n">{downloads}</td><td class="n">{uploads}</td>'
            '<td class="n">{uploaders}</td><td class="n">{pledge} of {members}</td></tr>',
            m=str(f.period.month),
            label=f.period.label,
            pushes=_num(f.stats.pushes),
            downloads=_num(f.stats.downloads),
            uploads=_num(f.stats.uploads),
            uploaders=_num(f.stats.uploading_members),
            pledge=_num(f.meeting_pledge),
            members=_num(f.judged),
        )
        for f in reversed(figures.months)
    )
    body = render(
        "{header}<main>"
        '<h2 id="period">{period} <small>· UTC · members: {members}</small></h2>{tiles}{asof}'
        "<h2>Month by month <small>· the {n} months to {month}</small></h2>"
        '<div class="grid2"><div class="card"><h3>Pushes, downloads, uploads</h3>{monthly}</div>'
        '<div class="card"><h3>Uploading members · meeting the pledge</h3>{members_monthly}'
        "</div></div>"
        "<h2>Per member <small>· {period}</small></h2>"
        '<div class="grid2 even"><div class="card"><h3>The pledge: one upload a day '
        "(days with an upload / days in the period)</h3>{pledge}</div>"
        '<div class="card"><h3>Downloads and uploads</h3>{activity}</div></div>'
        '<h2>Members <small>· {period}</small></h2><table id="members"><thead><tr>'
        '<th>Member</th><th>Country</th><th class="n">Downloads</th>'
        '<th class="n">Downloaded</th><th class="n">Uploads</th>'
        '<th class="n">Days with an upload</th><th>Pledge</th></tr></thead>'
        "<tbody>{member_rows}</tbody></table>"
        '<h2>Months</h2><table id="months"><thead><tr><th>Month</th><th class="n">Pushes</th>'
        '<th class="n">Downloads</th><th class="n">Uploads</th>'
        '<th class="n">Uploading members</th><th class="n">Meeting the pledge</th></tr>'
        "</thead><tbody>{month_rows}</tbody></table></main>",
        header=_header(chosen, months, current, who),
        period=period.label,
        members=sel.members,
        tiles=tiles,
        asof=asof,
        n=len(figures.months),
        month=chosen.label,
        monthly=monthly,
        members_monthly=members_monthly,
        pledge=pledge,
        activity=activity,
        member_rows=member_rows,
        month_rows=month_rows,
    )
    return document(f"{period.label} · ALU hub statistics", body, nonce)
