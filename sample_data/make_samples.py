"""Generate the sample case logs in this folder.

    python sample_data/make_samples.py

writes ``case_log.xlsx`` (English headers) and ``case_log_zh.xlsx`` (Chinese headers and labels)
next to this script (run it where caseloop is installed: it takes the flag order from it). A fixed
random seed and fixed workbook properties, so every run writes the same bytes.

The log belongs to a fictional seller team in Shenzhen. Its history (resolved and closed cases
since August 2026) is generated; the cases still open on 2026-11-20 18:00 (Asia/Shanghai) are
written by hand so that every flag of the spec shows when caseloop is run with
``--now 2026-11-20T18:00`` and the default rules. The numbers (reply targets, open-time limits,
categories' priorities and evidence) come from ``sheets_schema/rules.yaml``; at the end the
script reads the English workbook back with caseloop itself and checks that every hand-written
case gets the flag it was written for.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import xlsxwriter

from caseloop.config import FLAG_ORDER, load_rules
from caseloop.engine import Settings, judge, load

RULES = load_rules()

HERE = Path(__file__).resolve().parent
SEED = 20261120
AS_OF = datetime(2026, 11, 20, 18, 0)  # Asia/Shanghai, naive
HISTORY_START = datetime(2026, 8, 10)  # a Monday; 15 ISO weeks before AS_OF's week ends
HISTORY_END = datetime(2026, 11, 12)  # cases after this are written by hand below
CREATED = datetime(2026, 8, 10, 9, 0, 0)  # fixed workbook creation date -> same bytes

# --------------------------------------------------------------------------------------------
# Vocabulary (canonical English labels as in rules.yaml, with the Chinese labels used in the
# zh workbook).

# Category -> (Chinese label, default priority, evidence columns), as the rules file says.
CATEGORIES = {
    name: (category.zh, category.priority, list(category.evidence))
    for name, category in RULES.categories.items()
}
CHANNELS = {"Case": "工单", "Phone": "电话", "Chat": "在线聊天", "Email": "邮件"}
REPLY_TARGET = dict(RULES.reply_targets)
PRIORITIES = {"High": "高", "Normal": "中", "Low": "低"}
MAX_OPEN = dict(RULES.max_open_hours)
STATUS_ZH = {"Open": "处理中", "Resolved": "已解决", "Closed": "已关闭"}
# How the zh log spells Seller Central's labels (aliases of Open in rules.yaml).
STATUS_ZH_ALIAS = {
    "Work in progress": "进行中",
    "Pending Amazon action": "待处理",
    "Answered": "已回复",
    "Needs your attention": "需要您关注",
}
SELLER_CENTRAL_OPEN = ["Work in progress", "Pending Amazon action", "Answered"]
MARKETPLACES = {
    "US": "美国",
    "CA": "加拿大",
    "UK": "英国",
    "DE": "德国",
    "FR": "法国",
    "IT": "意大利",
    "ES": "西班牙",
    "JP": "日本",
    "AU": "澳大利亚",
}
OWNERS = ["Li Wei", "Chen Jing", "Wang Fang", "Zhang Min", "Emma"]
STORES = {
    "US": ["NorthPeak Gear", "Lumora Home"],
    "CA": ["NorthPeak Gear"],
    "UK": ["NorthPeak Gear", "Lumora Home"],
    "DE": ["Lumora Home", "Velden Kitchen"],
    "FR": ["Velden Kitchen"],
    "IT": ["Velden Kitchen"],
    "ES": ["Velden Kitchen"],
    "JP": ["Tidewell Japan"],
    "AU": ["Tidewell Japan", "NorthPeak Gear"],
}
ORDER_PREFIX = {
    "US": ["111", "112", "113", "114"],
    "CA": ["701", "702"],
    "UK": ["202", "203", "204"],
    "DE": ["302", "303", "304", "305"],
    "FR": ["405", "406"],
    "IT": ["403", "404"],
    "ES": ["407", "408"],
    "JP": ["249", "250", "503"],
    "AU": ["249", "250"],
}
ALNUM = "ABCDEFGHJKLMNPQRSTUVWXYZ0123456789"

# Team notes in the extra column caseloop must ignore (English, Chinese).
NOTES = [
    ("ask warehouse for POD photos", "找仓库要签收照片"),
    ("duplicate of an older case, keep this one", "与旧工单重复，保留这个"),
    ("Emma drafting the POA", "Emma 在写申诉信"),
    ("boss wants daily update", "老板要求每天更新进度"),
    ("call back after 21:00 (US morning)", "21点后（美国上午）再打电话"),
    ("screenshots in shared drive /cases", "截图在共享盘 /cases 目录"),
    ("bot answer again, re-raise by phone", "又是机器人回复，改用电话"),
    ("check invoice dates first", "先核对发票日期"),
]

# Per category: (summary, Amazon responses, resolution). {asin}, {order}, {shp}, {mkt} are filled
# in. The responses are short notes a team member types after reading Amazon's answer.
BOT = [
    "Thank you for contacting Amazon Seller Support. Please review the Seller Central Help "
    "page on this topic. We are now closing this case.",
    "Thank you for contacting Amazon Seller Support. Your request has been forwarded to the "
    "appropriate team; you will hear back within 24-48 hours.",
    "Thank you for your patience. We are still working on your request and will update this "
    "case as soon as we have more information.",
]
SCENARIOS: dict[str, list[tuple[str, list[str], str]]] = {
    "Account health": [
        (
            "AHR dropped to 'At Risk' on {mkt} after two old policy warnings, asking for review",
            ["Asked for a plan of action covering both warnings", BOT[1]],
            "Warnings acknowledged, AHR back to Good after POA",
        ),
        (
            "Late shipment rate alert on {mkt} counts FBA orders, please remove them",
            ["Agent confirmed FBA orders excluded, metric refresh in 72 h"],
            "Metric corrected",
        ),
        (
            "Identity verification requested again on {mkt}, documents already approved in July",
            ["Said second check is routine, re-upload passport scan", BOT[0]],
            "Verification passed after re-upload",
        ),
    ],
    "Listing": [
        (
            "{asin} suppressed: 'missing product type attribute' but the attribute is filled",
            ["Catalog team refreshed the listing, wait 24 h", BOT[0]],
            "Listing active again",
        ),
        (
            "{asin} removed for a pesticide claim; no such claim in title or bullets",
            ["Asked us to remove the word 'antibacterial' from bullet 3"],
            "Bullet edited, listing reinstated",
        ),
        (
            "New main image on {asin} not showing 5 days after upload",
            ["Image failed the white background check, re-upload", BOT[2]],
            "New image live",
        ),
        (
            "Variation family broken, child {asin} shows as a separate listing",
            ["Sent flat file instructions, asked for parent SKU"],
            "Family rebuilt by catalog team",
        ),
    ],
    "IP complaint": [
        (
            "Trademark complaint on {asin} from a company we do not know; we own the brand",
            ["Asked for registration certificate and proof of use", BOT[1]],
            "Complaint retracted, listing restored",
        ),
        (
            "{asin} blocked for a design patent complaint, invoices and our own patent attached",
            ["Said they cannot judge patents, contact the rights owner"],
            "Rights owner withdrew after our lawyer's letter",
        ),
    ],
    "Payments": [
        (
            "Disbursement on {mkt} on hold for 12 days, no reason shown in Payments",
            ["Hold due to deposit method check, verify bank account", BOT[2]],
            "Hold released, funds paid out",
        ),
        (
            "Reserve on {mkt} raised to 30% without notice, please explain",
            ["Reserve follows account health, reviewed weekly"],
            "Reserve back to standard after review",
        ),
        (
            "Settlement report for 1-14 Oct missing on {mkt}",
            ["Report regenerated, download again"],
            "Report available",
        ),
    ],
    "Advertising": [
        (
            "Sponsored Brands campaign on {mkt} in 'pending review' for 4 days",
            ["Moderation backlog, campaign approved now"],
            "Campaign approved",
        ),
        (
            "Ad invoice for October charged twice to our card on {mkt}",
            ["Refund of the duplicate charge issued, 5-7 days", BOT[1]],
            "Duplicate charge refunded",
        ),
        (
            "Sponsored Products not eligible on {asin}: 'not Buy Box winner' but we are the only seller",
            ["Buy Box suppressed by price check, lower price or wait", BOT[0]],
            "Eligible again after price update",
        ),
    ],
    "FBA inventory": [
        (
            "{asin}: 12 units lost in warehouse per inventory ledger, request reimbursement",
            ["Reimbursement approved for 12 units", BOT[2]],
            "Reimbursed 12 units",
        ),
        (
            "{asin} stranded as 'listing missing' but the listing is active",
            ["Asked us to relist from the stranded inventory page"],
            "Units sellable again",
        ),
        (
            "Units of {asin} damaged in warehouse not reimbursed after 30 days",
            ["Investigation opened, answer in 5 business days", BOT[1]],
            "Reimbursed after investigation",
        ),
        (
            "Removal order for {asin} cancelled by the system, please recreate",
            ["Removal order recreated by the agent"],
            "Removal shipped",
        ),
    ],
    "FBA shipment": [
        (
            "Shipment {shp} closed with 24 units missing, PODs attached",
            ["Asked for box contents and carrier POD", BOT[1]],
            "Reconciled: 24 units found / reimbursed",
        ),
        (
            "Shipment {shp} stuck in 'checked-in' for 9 days",
            ["FC backlog, receiving expected this week", BOT[2]],
            "Shipment received in full",
        ),
        (
            "Shipment {shp}: 200 units sent, 180 received",
            ["Research case opened for 20 units"],
            "20 units found at FC",
        ),
        (
            "Boxes of {shp} refused at the FC for a label problem",
            ["Told us to print new box labels and rebook"],
            "Relabelled and delivered",
        ),
    ],
    "Orders & returns": [
        (
            "Order {order}: buyer returned a used item, asking for SAFE-T claim review",
            ["Asked for photos of the returned item", BOT[0]],
            "SAFE-T claim granted",
        ),
        (
            "A-to-z claim on {order} although tracking shows delivered",
            ["Claim decided in our favour, not counted in ODR"],
            "A-to-z closed in our favour",
        ),
        (
            "Order {order} refunded by Amazon without the return being received",
            ["Will reimburse if not returned in 45 days", BOT[1]],
            "Reimbursed for the unreturned item",
        ),
        (
            "Buyer of {order} needs an invoice, upload button greyed out",
            ["Upload works after the order ships, try again"],
            "Invoice uploaded",
        ),
    ],
    "Tax & VAT": [
        (
            "VAT number for {mkt} not showing in tax settings after update",
            ["Validation against VIES pending, check in 48 h", BOT[2]],
            "VAT number visible",
        ),
        (
            "VAT calculation service uses the wrong rate on {mkt} orders",
            ["Product tax code wrong, change to A_GEN_STANDARD"],
            "Tax code fixed",
        ),
        (
            "Need copies of VAT invoices for Q3 selling fees on {mkt}",
            ["Invoices are in Reports > Tax Document Library", BOT[0]],
            "Invoices downloaded",
        ),
    ],
    "Brand Registry": [
        (
            "Brand Registry application stuck 'under review' for 3 weeks",
            ["Verification code sent to the trademark attorney"],
            "Brand approved",
        ),
        (
            "Cannot add a second trademark to our brand in Brand Registry",
            ["Asked for the new registration number", BOT[1]],
            "Trademark added",
        ),
        (
            "A+ content rejected for a comparison chart that names no competitor",
            ["Moderator re-reviewed and approved"],
            "A+ content live",
        ),
    ],
    "Other": [
        (
            "Seller Central shows the old business address on fee invoices",
            ["Change the address under Account Info, invoices follow", BOT[0]],
            "Address updated",
        ),
        (
            "Business reports page gives error 500 for the last 2 days",
            ["Known issue, fixed by tech team"],
            "Reports load again",
        ),
        (
            "Need to change the primary contact e-mail of the account",
            ["Sent the steps, needs two-step verification"],
            "E-mail changed",
        ),
    ],
}
CLOSED_RESOLUTIONS = [
    "Closed by Amazon with a help-page link; fixed it ourselves",
    "Closed: problem went away before Amazon answered",
    "Closed as duplicate; followed up on the older case",
]

CAT_WEIGHTS = {
    "Account health": 6,
    "Listing": 16,
    "IP complaint": 6,
    "Payments": 7,
    "Advertising": 8,
    "FBA inventory": 13,
    "FBA shipment": 14,
    "Orders & returns": 14,
    "Tax & VAT": 6,
    "Brand Registry": 5,
    "Other": 5,
}
MKT_WEIGHTS = {"US": 34, "UK": 12, "DE": 14, "JP": 10, "CA": 8, "FR": 6, "IT": 5, "ES": 5, "AU": 6}
CH_WEIGHTS = {"Case": 58, "Chat": 17, "Email": 13, "Phone": 12}
EU = {"UK", "DE", "FR", "IT", "ES"}

# The columns of the Cases tab, in the team's own order (not the schema's), with widths.
COLUMNS = [
    ("Case ID", 14),
    ("Opened At", 17),
    ("Marketplace", 12),
    ("Store", 16),
    ("Channel", 10),
    ("Category", 17),
    ("Priority", 9),
    ("Owner", 11),
    ("Status", 20),
    ("Summary", 62),
    ("Order ID", 21),
    ("ASIN", 13),
    ("Shipment ID", 15),
    ("Last Sent At", 17),
    ("Follow-ups", 10),
    ("First Reply At", 17),
    ("Last Reply At", 17),
    ("Amazon Response", 55),
    ("Promised By", 17),
    ("Deadline", 17),
    ("Deadline Type", 14),
    ("Related Cases", 26),
    ("Resolved At", 17),
    ("Resolution", 40),
    ("Internal note", 34),
]
ZH_HEADERS = {
    "Case ID": "案例编号",
    "Opened At": "提交时间",
    "Marketplace": "站点",
    "Store": "店铺",
    "Channel": "联系渠道",
    "Category": "问题类型",
    "Priority": "优先级",
    "Owner": "负责人",
    "Status": "状态",
    "Summary": "问题描述",
    "Order ID": "订单号",
    "ASIN": "ASIN",
    "Shipment ID": "货件编号",
    "Last Sent At": "最近跟进时间",
    "Follow-ups": "跟进次数",
    "First Reply At": "首次回复时间",
    "Last Reply At": "最近回复时间",
    "Amazon Response": "回复摘要",
    "Deadline": "截止时间",
    "Deadline Type": "截止类型",
    "Promised By": "承诺回复时间",
    "Related Cases": "关联案例",
    "Resolved At": "解决时间",
    "Resolution": "处理结果",
    "Internal note": "内部备注",
}
DATE_COLUMNS = {
    "Opened At",
    "Last Sent At",
    "First Reply At",
    "Last Reply At",
    "Deadline",
    "Promised By",
    "Resolved At",
}


@dataclass
class Case:
    key: str  # a label for the self-check ("D1", "h17", ...); not written
    opened: datetime | str  # a str is a mistyped date (the INVALID row)
    marketplace: str
    channel: str
    category: str
    summary: str
    status: str = "Resolved"
    priority: str | None = None  # None -> blank cell (default from the category)
    store: str = ""
    owner: str = ""
    order_id: str = ""
    asin: str = ""
    shipment_id: str = ""
    last_sent: datetime | None = None
    follow_ups: int | None = None
    first_reply: datetime | None = None
    last_reply: datetime | None = None
    response: str = ""
    deadline: datetime | None = None
    deadline_type: str = ""  # a Deadline Type of rules.yaml (A-to-z, Chargeback ...)
    promised: datetime | None = None  # Promised By: when Amazon said it would answer
    follow_ups_text: str = ""  # a Follow-ups cell typed as text ("两三次"), instead of follow_ups
    related: list[Case] = field(default_factory=list)
    resolved: datetime | None = None
    resolution: str = ""
    note: tuple[str, str] | None = None
    expect: str | None = None  # the flag this hand-written case is meant to show
    case_id: str = ""
    numeric_id: bool = False


class Gen:
    """Seeded generators for IDs that look like Amazon's and never repeat."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.used: set[str] = set()

    def _unique(self, make) -> str:
        while True:
            value = make()
            if value not in self.used:
                self.used.add(value)
                return value

    def asin(self) -> str:
        return self._unique(lambda: "B0" + "".join(self.rng.choices(ALNUM, k=8)))

    def order(self, mkt: str) -> str:
        r = self.rng
        return self._unique(
            lambda: (
                f"{r.choice(ORDER_PREFIX[mkt])}-{r.randrange(10**7):07d}-{r.randrange(10**7):07d}"
            )
        )

    def shipment(self) -> str:
        r = self.rng
        return self._unique(lambda: "FBA1" + "".join(r.choices(ALNUM, k=r.choice([8, 9]))))


def weighted(rng: random.Random, weights: dict[str, int]) -> str:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def h(hours: float) -> timedelta:
    return timedelta(hours=hours)


def fill(text: str, case: Case) -> str:
    return text.format(
        asin=case.asin or "our ASIN",
        order=case.order_id or "the order",
        shp=case.shipment_id or "our shipment",
        mkt=case.marketplace,
    )


# --------------------------------------------------------------------------------------------
# History: resolved and closed cases since August, with a weekday rhythm and one spike.


def history(rng: random.Random, gen: Gen) -> list[Case]:
    # A small catalogue per store, so the same ASIN comes back now and then, as in real life.
    catalogue = {s: [gen.asin() for _ in range(6)] for ss in STORES.values() for s in ss}
    cases: list[Case] = []
    day = HISTORY_START
    n = 0
    while day <= HISTORY_END:
        if day.weekday() < 5:
            count = rng.choices([0, 1, 2, 3], weights=[25, 45, 23, 7])[0]
        else:
            count = rng.choices([0, 1, 2], weights=[65, 30, 5])[0]
        hours = sorted(rng.uniform(9, 23.5) for _ in range(count))
        for hour in hours:
            n += 1
            cases.append(history_case(rng, gen, catalogue, f"h{n}", day + h(hour)))
        day += timedelta(days=1)
    cases.extend(spike(rng, gen))
    # Now and then a case is raised again about the same problem and points at the first one.
    by_time = sorted(cases, key=lambda c: c.opened)
    linked: set[str] = set()
    for i, case in enumerate(by_time):
        if case.related or case.key.startswith("spike") or rng.random() > 0.12:
            continue
        earlier = [
            c
            for c in by_time[max(0, i - 12) : i]
            if c.category == case.category
            and not c.related
            and c.key not in linked
            and not c.key.startswith("spike")
        ]
        if earlier:
            first = earlier[-1]
            case.related = [first]
            linked.update({first.key, case.key})
    return cases


def history_case(rng: random.Random, gen: Gen, catalogue, key: str, opened: datetime) -> Case:
    category = weighted(rng, CAT_WEIGHTS)
    mkt = weighted(rng, MKT_WEIGHTS)
    channel = weighted(rng, CH_WEIGHTS)
    store = rng.choice(STORES[mkt])
    summary, responses, resolution = rng.choice(SCENARIOS[category])
    case = Case(
        key=key,
        opened=opened,
        marketplace=mkt,
        channel=channel,
        category=category,
        summary="",
        store=store,
        owner=rng.choice(OWNERS),
    )
    default = CATEGORIES[category][1]
    case.priority = rng.choices([default, None, "High", "Low"], weights=[70, 20, 6, 4])[0]
    if category in ("Listing", "IP complaint", "FBA inventory") or (
        category in ("Advertising", "FBA shipment", "Orders & returns") and rng.random() < 0.3
    ):
        case.asin = rng.choice(catalogue[store])
    if category == "Orders & returns":
        case.order_id = gen.order(mkt)
    if category == "FBA shipment":
        case.shipment_id = gen.shipment()
    case.summary = fill(summary, case)

    for _attempt in range(3):
        fast = _attempt > 0
        first = opened + h(first_reply_delay(rng, channel, fast))
        last_sent, last_reply = opened, first
        follow_ups = 0 if fast else rng.choices([0, 1, 2, 3], weights=[45, 30, 17, 8])[0]
        for _ in range(follow_ups):
            last_sent = last_reply + h(rng.uniform(1, 26))
            last_reply = last_sent + h(first_reply_delay(rng, channel, fast))
        resolved = last_reply + h(rng.uniform(0.2, 2 if fast else 30))
        if resolved < AS_OF - h(3):
            break
    else:  # pragma: no cover - the fast path always fits
        raise SystemExit(f"could not fit history case {key} before AS_OF")
    case.first_reply = first
    case.last_reply = last_reply
    case.last_sent = last_sent if follow_ups else None if rng.random() < 0.5 else opened
    case.follow_ups = follow_ups if (follow_ups or rng.random() < 0.6) else None
    case.resolved = resolved
    case.response = responses[-1] if follow_ups and len(responses) > 1 else responses[0]
    if rng.random() < 0.72:
        case.status, case.resolution = "Resolved", resolution
    else:
        case.status, case.resolution = "Closed", rng.choice(CLOSED_RESOLUTIONS)
    if category == "Orders & returns" and "A-to-z" in case.summary:
        case.deadline = opened + h(72)
        case.priority = "High"
    if rng.random() < 0.15:
        case.note = rng.choice(NOTES)
    return case


def first_reply_delay(rng: random.Random, channel: str, fast: bool = False) -> float:
    if channel == "Case":
        return rng.uniform(1.5, 8 if fast else 32)
    if channel == "Email":
        return rng.uniform(6, 12 if fast else 70)
    if channel == "Chat":
        return rng.uniform(0.05, 0.4)
    return rng.uniform(0.05, 0.25)  # Phone: Amazon calls back within minutes


def spike(rng: random.Random, gen: Gen) -> list[Case]:
    """Week 2026-W41: one ASIN wrongly held as dangerous goods in five marketplaces.

    Every new case gets the same bot answer, so the team re-raises it through every channel.
    """
    asin = gen.asin()
    plan = [
        ("US", "Case", datetime(2026, 10, 5, 10, 20), "Closed"),
        ("US", "Phone", datetime(2026, 10, 5, 22, 40), "Closed"),
        ("CA", "Case", datetime(2026, 10, 6, 9, 50), "Closed"),
        ("UK", "Chat", datetime(2026, 10, 6, 16, 5), "Closed"),
        ("DE", "Case", datetime(2026, 10, 7, 11, 30), "Closed"),
        ("US", "Email", datetime(2026, 10, 7, 20, 15), "Closed"),
        ("AU", "Case", datetime(2026, 10, 7, 22, 50), "Closed"),
        ("US", "Chat", datetime(2026, 10, 8, 0, 30), "Closed"),
        ("CA", "Chat", datetime(2026, 10, 8, 10, 5), "Closed"),
        ("UK", "Phone", datetime(2026, 10, 8, 17, 40), "Closed"),
        ("US", "Case", datetime(2026, 10, 8, 21, 10), "Resolved"),
        ("DE", "Email", datetime(2026, 10, 9, 9, 30), "Closed"),
        ("US", "Phone", datetime(2026, 10, 9, 10, 15), "Closed"),
        ("AU", "Chat", datetime(2026, 10, 9, 13, 20), "Resolved"),
        ("UK", "Case", datetime(2026, 10, 9, 15, 45), "Resolved"),
        ("CA", "Case", datetime(2026, 10, 10, 11, 0), "Resolved"),
    ]
    cases: list[Case] = []
    for i, (mkt, channel, opened, status) in enumerate(plan, 1):
        first = opened + h(first_reply_delay(rng, channel))
        case = Case(
            key=f"spike{i}",
            opened=opened,
            marketplace=mkt,
            channel=channel,
            category="FBA inventory",
            summary=f"Inbound units of {asin} held as dangerous goods (lithium battery) - "
            "product has no battery, SDS attached",
            status=status,
            priority="High",
            store="NorthPeak Gear",
            owner=OWNERS[i % 2],
            asin=asin,
            first_reply=first,
            last_reply=first,
            follow_ups=0,
            related=cases[-2:],
        )
        if status == "Closed":
            case.response = (
                BOT[0] if i % 2 else "Asked to wait for dangerous goods review, 3-5 days"
            )
            case.resolution = "Closed by Amazon; pushed the open case instead"
            case.resolved = first + h(2)
        else:
            case.follow_ups = 2
            case.last_sent = first + h(20)
            case.last_reply = case.last_sent + h(30)
            case.response = "Supervisor sent override request to the dangerous goods team"
            case.resolution = "Classification reversed on 12 Oct, units released to sale"
            case.resolved = case.last_reply + h(4)
        cases.append(case)
    cases[-1].note = NOTES[6]
    return cases


# --------------------------------------------------------------------------------------------
# The last two weeks, written by hand: one or more cases for every flag at AS_OF.


def d(day: int, hour: int, minute: int = 0, month: int = 11) -> datetime:
    return datetime(2026, month, day, hour, minute)


def recent(gen: Gen) -> list[Case]:
    C = Case
    out: list[Case] = []

    # Older cases that the open ones point to (resolved or closed; no flag, or RESOLVED).
    rec_asin = gen.asin()
    r1 = C(
        "R1", d(27, 10, 5, 10), "US", "Case", "Listing",
        f"{rec_asin} suppressed as 'adult product' - it is a massage ball for sports",
        priority="Normal", store="NorthPeak Gear", owner="Chen Jing", asin=rec_asin,
        first_reply=d(28, 9, 30, 10), last_reply=d(28, 9, 30, 10), follow_ups=0,
        response="Catalog team removed the adult flag", resolved=d(29, 14, 0, 10),
        resolution="Listing reinstated",
    )  # fmt: skip
    r2 = C(
        "R2", d(6, 15, 20), "US", "Chat", "Listing",
        f"{rec_asin} suppressed again as 'adult product', same as last month",
        priority="Normal", store="NorthPeak Gear", owner="Chen Jing", asin=rec_asin,
        status="Closed", first_reply=d(6, 15, 31), last_reply=d(6, 15, 31), follow_ups=0,
        response=BOT[0], resolved=d(9, 10, 0),
        resolution="Closed by Amazon with a help link; flag came back, opened a new case",
        related=[r1],
    )  # fmt: skip
    shp_e1 = gen.shipment()
    p1 = C(
        "P1", d(9, 11, 0), "US", "Case", "FBA shipment",
        f"Shipment {shp_e1} closed with 36 units missing, carrier POD attached",
        store="Lumora Home", owner="Wang Fang", shipment_id=shp_e1, status="Closed",
        first_reply=d(10, 2, 15), last_reply=d(10, 2, 15), follow_ups=0, response=BOT[0],
        resolved=d(11, 9, 0), resolution="Closed by Amazon without research; re-raised",
    )  # fmt: skip
    p2 = C(
        "P2", d(30, 16, 0, 10), "IT", "Email", "Brand Registry",
        "Brand Registry: cannot add the Italian trademark to our brand",
        store="Velden Kitchen", owner="Zhang Min", status="Closed", first_reply=d(2, 9, 0),
        last_reply=d(2, 9, 0), follow_ups=0, response=BOT[1], resolved=d(3, 9, 30),
        resolution="Closed without an answer; asked again by e-mail",
    )  # fmt: skip
    out += [r1, r2, p1, p2]

    rv2_asin = gen.asin()
    d1_order, d2_asin, d3_order = gen.order("US"), gen.asin(), gen.order("UK")
    d4_order, pr1_asin = gen.order("UK"), gen.asin()
    t1_asin, t2_asin, t3_asin = gen.asin(), gen.asin(), gen.asin()
    s3_asin, k2_shp, i1_asin = gen.asin(), gen.shipment(), gen.asin()
    # RESOLVED: resolved in the last 7 days (RV3 has no Resolution: the one warning row).
    out += [
        C(
            "RV1", d(12, 10, 30), "UK", "Case", "Payments",
            "Disbursement on UK on hold since 9 Nov, no reason in Payments dashboard",
            priority="High", store="NorthPeak Gear", owner="Zhang Min",
            first_reply=d(12, 19, 0), last_reply=d(17, 20, 15), last_sent=d(17, 9, 0),
            follow_ups=2, response="Bank account re-verified, hold lifted",
            resolved=d(18, 11, 0), resolution="Hold released, funds paid out on 18 Nov",
        ),
        C(
            "RV2", d(13, 9, 15), "DE", "Chat", "Listing",
            f"{rv2_asin} shows the wrong German title after a flat file upload",
            store="Lumora Home", owner="Wang Fang", asin=rv2_asin,
            first_reply=d(13, 9, 21), last_reply=d(13, 9, 21), follow_ups=0,
            response="Agent forced a title refresh", resolved=d(14, 16, 0),
            resolution="Correct title live",
        ),
        C(
            "RV3", d(18, 14, 0), "CA", "Phone", "Advertising",
            "Cannot create Sponsored Display campaigns on CA, button greyed out",
            store="NorthPeak Gear", owner="Emma", first_reply=d(18, 14, 6),
            last_reply=d(18, 14, 6), follow_ups=0,
            response="Phone agent enabled Sponsored Display for the account",
            resolved=d(19, 10, 0), resolution="",
        ),
    ]  # fmt: skip

    # DEADLINE: Deadline less than 48 h away, or passed.
    out += [
        C(
            "D1", d(19, 10, 15), "US", "Case", "Orders & returns",
            f"A-to-z claim on {d1_order}: tracking shows delivered, must answer within 72 h", status="Answered",
            priority="High", store="Lumora Home", owner="Li Wei",
            order_id=d1_order, first_reply=d(19, 15, 40), last_reply=d(19, 15, 40),
            follow_ups=0, deadline_type="A-to-z", expect="DEADLINE",
            response="Asked for proof of delivery with signature",
            note=NOTES[0],
        ),
        C(
            "D2", d(12, 14, 0), "DE", "Case", "FBA inventory",
            f"{d2_asin}: 40 units lost at the FC in May, reimbursement window ends 19 Nov",
            status="Open", store="Velden Kitchen", owner="Wang Fang", asin=d2_asin, follow_ups=1,
            last_sent=d(19, 9, 0), first_reply=d(13, 11, 0), last_reply=d(13, 11, 0),
            response=BOT[2], deadline=d(19, 23, 59), deadline_type="Reimbursement claim",
            expect="DEADLINE",
        ),
        C(
            "D3", d(19, 9, 0), "UK", "Email", "Payments",
            f"Chargeback on {d3_order}: card issuer wants the invoice, reply due 21 Nov",
            status="Open", priority="High", store="NorthPeak Gear", owner="Zhang Min",
            order_id=d3_order, deadline=d(21, 12, 0), deadline_type="Chargeback",
            expect="DEADLINE",
        ),
        # A partly broken row: Follow-ups typed as "两三次" (two or three times); its near deadline
        # still shows.
        C(
            "D4", d(20, 8, 0), "UK", "Case", "Orders & returns",
            f"A-to-z claim on {d4_order}: buyer says item not as described, photos requested",
            status="Open", store="Lumora Home", owner="Chen Jing", order_id=d4_order,
            follow_ups_text="两三次", deadline=d(21, 20, 0), deadline_type="A-to-z",
            expect="DEADLINE",
        ),
    ]  # fmt: skip
    # ESCALATE: follow-ups >= 2 and past target; open too long; recurring.
    out += [
        C(
            "E1", d(15, 20, 0), "US", "Case", "FBA shipment",
            f"Shipment {shp_e1} still 36 units short, second case - first one closed unresearched",
            status="Pending Amazon action", store="Lumora Home", owner="Wang Fang",
            shipment_id=shp_e1, first_reply=d(16, 13, 0), last_reply=d(16, 13, 0),
            last_sent=d(18, 9, 30), follow_ups=2, response=BOT[1], related=[p1],
            expect="ESCALATE", note=NOTES[6],
        ),
        C(
            "E2", d(14, 9, 0), "DE", "Email", "Tax & VAT",
            "German VAT number rejected in tax settings although valid in VIES",
            status="Open", priority="Normal", store="Velden Kitchen", owner="Emma",
            first_reply=d(14, 9, 5), last_reply=d(14, 9, 5), last_sent=d(17, 11, 0),
            follow_ups=3, response="Auto-acknowledgement only, no answer since",
            expect="ESCALATE",
        ),
        C(
            "E3", d(13, 10, 30), "JP", "Case", "Account health",
            "JP account under review after a product authenticity complaint, invoices sent",
            status="Work in progress", priority="High", store="Tidewell Japan", owner="Li Wei",
            first_reply=d(14, 16, 0), last_reply=d(19, 18, 0), last_sent=d(20, 9, 0),
            follow_ups=1, response="Asked for supplier invoices with our address, sent 20 Nov",
            expect="ON TRACK", note=NOTES[2],
        ),
        C(
            "E4", d(20, 10, 0), "US", "Case", "Listing",
            f"{rec_asin} suppressed as 'adult product' for the third time in a month",
            status="Open", priority="Normal", store="NorthPeak Gear", owner="Chen Jing",
            asin=rec_asin, follow_ups=0, related=[r1, r2], expect="ON TRACK",
            note=NOTES[1],
        ),
        C(
            "E5", d(15, 10, 0), "US", "Case", "Payments",
            "US disbursements held for 14 days without notice; reserve not explained",
            status="Pending Amazon action", store="NorthPeak Gear", owner="Zhang Min",
            first_reply=d(16, 10, 0), last_reply=d(16, 10, 0), last_sent=d(18, 15, 0),
            follow_ups=1, response="Said the payments team is reviewing; sent bank statements",
            expect="ESCALATE",
        ),
    ]  # fmt: skip

    # OVERDUE: Amazon's turn past the channel target, fewer than 2 follow-ups.
    o1_order = gen.order("FR")
    out += [
        C(
            "O1", d(18, 11, 20), "FR", "Case", "Orders & returns",
            f"Order {o1_order} refunded by Amazon, return never arrived - please reimburse",
            status="Pending Amazon action", store="Velden Kitchen", owner="Zhang Min",
            order_id=o1_order, follow_ups=0, expect="OVERDUE",
        ),
        C(
            "O2", d(20, 13, 10), "US", "Chat", "Advertising",
            "Chat: all Sponsored Products ads paused by the system, 'payment failed' but card is fine",
            status="Open", priority="High", store="Lumora Home", owner="Emma", follow_ups=0,
            expect="OVERDUE", note=NOTES[3],
        ),
        C(
            "O3", d(10, 16, 0), "IT", "Email", "Brand Registry",
            "Brand Registry: Italian trademark still cannot be added, asking again",
            status="Open", priority="Low", store="Velden Kitchen", owner="Zhang Min",
            first_reply=d(12, 10, 0), last_reply=d(12, 10, 0), last_sent=d(17, 15, 30),
            follow_ups=1, response="Asked for the EUIPO registration number, sent it same day",
            related=[p2], expect="OVERDUE",
        ),
    ]  # fmt: skip

    # DUPLICATE: a second open case on O1's order (the oldest, O1, keeps its own flag).
    out += [
        C(
            "DU1", d(20, 15, 0), "FR", "Case", "Orders & returns",
            f"Order {o1_order}: refund without return, opened again by a colleague",
            status="Open", store="Velden Kitchen", owner="Chen Jing", order_id=o1_order,
            follow_ups=0, expect="DUPLICATE",
        ),
    ]  # fmt: skip

    # REOPEN: closed by Amazon with a help link, not fixed, no Resolution, within 14 days.
    out += [
        C(
            "RO1", d(10, 10, 0), "DE", "Case", "Advertising",
            "Sponsored Brands video rejected for 'unsupported language', video is German",
            store="Velden Kitchen", owner="Emma", status="Closed",
            first_reply=d(11, 9, 0), last_reply=d(11, 9, 0), follow_ups=0, response=BOT[0],
            resolved=d(12, 15, 0), resolution="", expect="REOPEN",
        ),
    ]  # fmt: skip

    # A promised date: Amazon said "dangerous-goods review, 3-5 business days"; past the
    # case's 24 h target, it is still ON TRACK until Promised By.
    out += [
        C(
            "PR1", d(17, 10, 0), "US", "Case", "FBA inventory",
            f"{pr1_asin} stranded as dangerous goods; it is a cotton yoga strap",
            status="Work in progress", store="Lumora Home", owner="Wang Fang", asin=pr1_asin,
            first_reply=d(18, 10, 0), last_reply=d(18, 10, 0), last_sent=d(18, 10, 30),
            follow_ups=0, promised=d(24, 18, 0),
            response="Dangerous-goods review, 3-5 business days; SDS sent",
            expect="ON TRACK",
        ),
    ]  # fmt: skip

    # OUR TURN: Amazon answered later than our last message (T2, T3 waiting on us > 24 h).
    out += [
        C(
            "T1", d(19, 9, 40), "UK", "Case", "IP complaint",
            f"Copyright complaint on the main image of {t1_asin}; we shot it ourselves",
            status="Answered", priority="High", store="Lumora Home", owner="Chen Jing",
            asin=t1_asin, first_reply=d(20, 11, 15), last_reply=d(20, 11, 15),
            follow_ups=0, response="Asks for a letter of authorisation from the brand owner",
            expect="OUR TURN",
        ),
        C(
            "T2", d(12, 10, 0), "ES", "Case", "FBA inventory",
            f"{t2_asin}: 15 units marked 'customer damaged' in FC, please reimburse",
            status="Answered", priority="Low", store="Velden Kitchen", owner="Wang Fang",
            asin=t2_asin, first_reply=d(13, 16, 0), last_sent=d(16, 10, 0),
            last_reply=d(18, 14, 30), follow_ups=1,
            response="Wants the removal order ID and photos of the damaged units",
            expect="OUR TURN",
        ),
        C(
            "T3", d(18, 9, 0), "JP", "Email", "Listing",
            f"{t3_asin} blocked on JP: 'product ID exemption required'",
            status="Open", store="Tidewell Japan", owner="Li Wei", asin=t3_asin,
            first_reply=d(19, 16, 0), last_reply=d(19, 16, 0), follow_ups=0,
            response="Asks for a JAN code exemption letter", expect="OUR TURN",
        ),
    ]  # fmt: skip

    # NEEDS INFO: the category's evidence is empty, nothing worse applies.
    out += [
        C(
            "N1", d(20, 9, 30), "AU", "Case", "Listing",
            "Listing stuck 'incomplete' after editing bullet points on AU",
            status="Open", store="Tidewell Japan", owner="Emma", follow_ups=0,
            expect="NEEDS INFO",
        ),
        C(
            "N2", d(19, 16, 0), "CA", "Email", "FBA shipment",
            "Inbound shipment to YYZ4 shows 'delivered' but not checked in after 6 days",
            status="Open", store="NorthPeak Gear", owner="Li Wei", follow_ups=0,
            expect="NEEDS INFO",
        ),
        C(
            "N3", d(20, 11, 0), "UK", "Case", "Orders & returns",
            "Buyer says parcel arrived empty, asks for refund; want Amazon to check weight",
            status="Open", store="NorthPeak Gear", owner="Chen Jing", follow_ups=0,
            expect="NEEDS INFO",
        ),
    ]  # fmt: skip

    # DUE SOON: Amazon's turn, waiting 75-100 % of the target.
    out += [
        C(
            "S1", d(19, 22, 0), "JP", "Case", "Payments",
            "JP disbursement failed: 'invalid bank account', bank details unchanged",
            status="Work in progress", priority="High", store="Tidewell Japan",
            owner="Li Wei", follow_ups=0, expect="DUE SOON",
        ),
        C(
            "S2", d(11, 15, 0), "UK", "Email", "Tax & VAT",
            "UK VAT invoices for October fees show the old VAT number",
            status="Open", priority="Low", store="NorthPeak Gear", owner="Zhang Min",
            first_reply=d(13, 10, 0), last_reply=d(13, 10, 0), last_sent=d(18, 21, 30),
            follow_ups=1, response="Said invoices are regenerated monthly; October still wrong",
            expect="DUE SOON",
        ),
        C(
            "S3", d(20, 17, 10), "US", "Chat", "FBA inventory",
            f"Chat queue: {s3_asin} inventory shows 0 available, 300 in reserved",
            status="Open", store="NorthPeak Gear", owner="Emma", asin=s3_asin,
            follow_ups=0, expect="DUE SOON",
        ),
    ]  # fmt: skip

    # ON TRACK: waiting less than 75 % of the target (K2 has a Deadline a week away; K3 has
    # 2 follow-ups but is within target, so it is not escalated).
    out += [
        C(
            "K1", d(20, 14, 0), "US", "Case", "Brand Registry",
            "Brand Registry: add a new seller account as authorised to our brand",
            status="Work in progress", store="Lumora Home", owner="Chen Jing", follow_ups=0,
            expect="ON TRACK",
        ),
        C(
            "K2", d(13, 20, 0), "UK", "Email", "FBA shipment",
            f"Shipment {k2_shp} partly received, FC asks for box labels by 27 Nov",
            status="Open", store="Lumora Home", owner="Wang Fang", shipment_id=k2_shp,
            first_reply=d(16, 11, 0), last_reply=d(16, 11, 0), last_sent=d(19, 20, 0),
            follow_ups=1, response="FC will finish receiving; asked for box label photos",
            deadline=d(27, 18, 0), expect="ON TRACK",
        ),
        C(
            "K3", d(11, 10, 0), "DE", "Case", "Other",
            "Invoices for storage fees address the wrong legal entity",
            status="Open", priority="Low", store="Velden Kitchen", owner="Emma",
            first_reply=d(12, 9, 0), last_reply=d(19, 9, 0), last_sent=d(20, 12, 30),
            follow_ups=2,
            response="Asked which invoice numbers; sent the list 20 Nov", expect="ON TRACK",
        ),
        C(
            "K4", d(20, 9, 0), "AU", "Phone", "Account health",
            "Callback: AU account asks for a new business address document",
            status="Open", priority="High", store="Tidewell Japan", owner="Li Wei",
            first_reply=d(20, 9, 8), last_reply=d(20, 9, 8), last_sent=d(20, 17, 30),
            follow_ups=1, response="Agent explained the accepted documents; callback booked 17:30",
            expect="ON TRACK",
        ),
        C(
            "K5", d(20, 15, 20), "CA", "Case", "Advertising",
            "Coupons on CA not applied at checkout for 2 days",
            status="Open", priority="Low", store="NorthPeak Gear", owner="Zhang Min",
            follow_ups=None, expect="ON TRACK",
        ),
    ]  # fmt: skip

    # INVALID: a mistyped Opened At, and a channel the tool does not know.
    out += [
        C(
            "I1", "2026/13/02", "US", "Case", "FBA inventory",
            f"{i1_asin} inventory age report shows units we removed in October",
            status="Open", store="Lumora Home", owner="Wang Fang", asin=i1_asin,
            follow_ups=0, expect="INVALID",
        ),
        C(
            "I2", d(19, 11, 45), "US", "Seller Forums", "Other",
            "Asked in Seller Forums why Manage Inventory loads slowly; moderator will pass it on",
            status="Open", store="NorthPeak Gear", owner="Emma", follow_ups=0,
            expect="INVALID",
        ),
    ]  # fmt: skip
    return out


# Why each hand-written case shows its flag (printed with the self-check).
WHY = {
    "D1": "A-to-z deadline computed from Deadline Type: opened + 72 h (US), 40 h left",
    "D2": "reimbursement window passed (also open > 168 h)",
    "D3": "chargeback reply due in 42 h",
    "D4": "Follow-ups typed '两三次' (a warning, judged as 0) and a Deadline in 26 h",
    "E1": "Case, 2 follow-ups, 56 h without answer",
    "E2": "Email, 3 follow-ups, 79 h without answer",
    "E3": "High priority open 176 h, but Amazon's turn only 9 h: wait (no escalation)",
    "E4": "recurring (3rd case on the ASIN), Amazon's turn 8 h: a note, no escalation",
    "E5": "High priority open 128 h and Amazon 51 h past its target",
    "DU1": "second open case on O1's order",
    "RO1": "closed by Amazon on 12 Nov without a Resolution",
    "PR1": "waiting 55.5 h; Amazon promised an answer by 24 Nov 18:00",
    "O1": "Case, 55 h without answer, 0 follow-ups",
    "O2": "Chat, 4.8 h without answer",
    "O3": "Email, 74.5 h since our follow-up",
    "T1": "Amazon answered 6.75 h ago",
    "T2": "Amazon answered 51.5 h ago (late)",
    "T3": "Amazon answered 26 h ago (late)",
    "N1": "Listing without ASIN",
    "N2": "FBA shipment without Shipment ID",
    "N3": "Orders & returns without Order ID",
    "S1": "Case waiting 20 h of 24",
    "S2": "Email waiting 44.5 h of 48",
    "S3": "Chat waiting 50 min of 60",
    "K1": "Case waiting 4 h",
    "K2": "Email waiting 22 h, Deadline 7 days away",
    "K3": "Case waiting 5.5 h (2 follow-ups but within target)",
    "K4": "Phone after the callback: Case target 24 h, waiting 30 min",
    "K5": "Case waiting 2.7 h, Follow-ups blank",
    "I1": "Opened At typed as text 2026/13/02",
    "I2": "unknown Channel 'Seller Forums'",
    "RV1": "resolved 18 Nov",
    "RV2": "resolved 14 Nov",
    "RV3": "resolved 19 Nov, no Resolution (warning)",
}


# --------------------------------------------------------------------------------------------
# Self-check: caseloop itself reads the written workbook back and judges it.


def evaluated_flags(path: Path) -> dict[str, str | None]:
    """Case ID -> the flag caseloop gives at AS_OF with the default rules."""
    settings = Settings(log=str(path), now=AS_OF.isoformat())
    judged = judge(load(settings), settings)
    return {
        str(case_id): (flag if isinstance(flag, str) else None)
        for case_id, flag in zip(judged["Case ID"], judged["flag"], strict=True)
    }


# --------------------------------------------------------------------------------------------
# Workbooks.


def floor_minutes(cases: list[Case]) -> None:
    """Times as a person types them: whole minutes (flooring keeps their order)."""
    for case in cases:
        for name in (
            "opened",
            "last_sent",
            "first_reply",
            "last_reply",
            "deadline",
            "promised",
            "resolved",
        ):
            value = getattr(case, name)
            if isinstance(value, datetime):
                setattr(case, name, value.replace(second=0, microsecond=0))


def assign_ids(rng: random.Random, cases: list[Case]) -> None:
    next_id = 17_186_400_000 + rng.randrange(50_000)
    for case in cases:
        next_id += rng.randrange(200_000, 2_600_000)
        case.case_id = str(next_id)
        case.numeric_id = rng.random() < 0.5


def sort_key(case: Case) -> datetime:
    # The mistyped row was entered on 19 Nov, between the cases opened that day.
    return case.opened if isinstance(case.opened, datetime) else d(19, 12, 0)


def values(case: Case, zh: bool) -> dict[str, object]:
    status = case.status
    if zh:
        status = STATUS_ZH.get(status) or STATUS_ZH_ALIAS.get(status, STATUS_ZH["Open"])
    return {
        "Case ID": case.case_id,
        "Opened At": case.opened,
        "Marketplace": MARKETPLACES[case.marketplace] if zh else case.marketplace,
        "Store": case.store,
        "Channel": CHANNELS.get(case.channel, "卖家论坛") if zh else case.channel,
        "Category": CATEGORIES[case.category][0] if zh else case.category,
        "Priority": (PRIORITIES[case.priority] if zh else case.priority) if case.priority else "",
        "Owner": case.owner,
        "Status": status,
        "Summary": case.summary,
        "Order ID": case.order_id,
        "ASIN": case.asin,
        "Shipment ID": case.shipment_id,
        "Last Sent At": case.last_sent,
        "Follow-ups": case.follow_ups_text or case.follow_ups,
        "First Reply At": case.first_reply,
        "Last Reply At": case.last_reply,
        "Amazon Response": case.response,
        "Deadline": case.deadline,
        "Deadline Type": (
            RULES.zh_labels["Deadline Type"][case.deadline_type] if zh else case.deadline_type
        )
        if case.deadline_type
        else "",
        "Promised By": case.promised,
        "Related Cases": ("、" if zh else ", ").join(r.case_id for r in case.related),
        "Resolved At": case.resolved,
        "Resolution": case.resolution,
        "Internal note": (case.note[1] if zh else case.note[0]) if case.note else "",
    }


def lists_columns(zh: bool) -> list[tuple[str, list[str]]]:
    if zh:
        return [
            ("问题类型", [v[0] for v in CATEGORIES.values()]),
            ("联系渠道", list(CHANNELS.values())),
            ("状态", [*STATUS_ZH.values(), *STATUS_ZH_ALIAS.values()]),
            ("优先级", list(PRIORITIES.values())),
            ("站点", list(MARKETPLACES.values())),
            ("负责人", OWNERS),
            ("截止类型", list(RULES.zh_labels["Deadline Type"].values())),
        ]
    return [
        ("Category", list(CATEGORIES)),
        ("Channel", list(CHANNELS)),
        ("Status", ["Open", "Resolved", "Closed", *SELLER_CENTRAL_OPEN]),
        ("Priority", list(PRIORITIES)),
        ("Marketplace", list(MARKETPLACES)),
        ("Owner", OWNERS),
        ("Deadline Type", list(RULES.zh_labels["Deadline Type"])),
    ]


LIST_FOR_COLUMN = {
    "Category": 0,
    "Channel": 1,
    "Status": 2,
    "Priority": 3,
    "Marketplace": 4,
    "Owner": 5,
    "Deadline Type": 6,
}

TEMPLATES = [
    (
        "Supervisor escalation (after 2 follow-ups without a useful answer)",
        "Subject: URGENT ESCALATION - please transfer to a supervisor - case {case_id}\n\n"
        "Hello,\n\n"
        "This is our {n} contact about the same problem: {problem}.\n"
        "Earlier case IDs: {related_ids}. Each was answered with a general help-page link or "
        "closed without research, and the problem is still there.\n\n"
        "We kindly ask you to transfer this case to a supervisor (Transfer to Supervisor) and "
        "to look at the whole history of the case IDs above together.\n"
        "What we need: {request}.\n"
        "Attached again: {evidence} (order / ASIN / shipment IDs, screenshots, invoices).\n\n"
        "Thank you for your help,\n{owner}, {store}",
    ),
    (
        "Follow-up on a case with no answer (reopen, do not open a new case)",
        "Hello,\n\n"
        "We sent this case on {opened_at} and have not received an answer yet. The issue is "
        "still open: {problem}.\n"
        "IDs for your research: {ids}.\n"
        "Could you please confirm that the case is assigned to a team and tell us when we can "
        "expect an update? If it is easier, please call us back at {phone}.\n\n"
        "Best regards,\n{owner}, {store}",
    ),
    (
        "Deadline reminder (A-to-z, chargeback, reimbursement window)",
        "Hello,\n\n"
        "Please note the deadline on this matter: {deadline} ({policy}). After that date we "
        "lose the right to {consequence}.\n"
        "Case {case_id} has all the documents you asked for: {evidence}.\n"
        "We would be grateful for a decision before the deadline, or for written confirmation "
        "that the window is extended while the case is being researched.\n\n"
        "Kind regards,\n{owner}, {store}",
    ),
]


def date_text(value: datetime, style: int) -> str:
    if style == 1:
        return f"{value.year}年{value.month:02d}月{value.day:02d}日 {value:%H:%M}"
    return f"{value:%Y/%m/%d %H:%M}"


def write_workbook(path: Path, cases: list[Case], zh: bool) -> None:
    rng = random.Random(SEED + 7)  # only for how the zh log spells its dates
    wb = xlsxwriter.Workbook(str(path))
    wb.set_properties(
        {
            "title": "Amazon Seller Support case log",
            "author": "Team Shenzhen",
            "company": "Team Shenzhen",
            "comments": "Sample data for caseloop, generated by sample_data/make_samples.py",
            "created": CREATED,
        }
    )
    title_fmt = wb.add_format({"bold": True, "font_size": 14})
    sub_fmt = wb.add_format({"italic": True, "font_color": "#595959"})
    head_fmt = wb.add_format(
        {"bold": True, "bg_color": "#1F4E78", "font_color": "#FFFFFF", "border": 1, "valign": "top"}
    )
    dt_fmt = wb.add_format({"num_format": "yyyy-mm-dd hh:mm"})
    id_fmt = wb.add_format({"num_format": "0"})
    text_fmt = wb.add_format({"num_format": "@"})

    sheet_name = "案例" if zh else "Cases"
    lists_name = "下拉选项" if zh else "Lists"
    ws = wb.add_worksheet(sheet_name)
    lists = wb.add_worksheet(lists_name)
    templates = wb.add_worksheet("模板" if zh else "Templates")

    if zh:
        ws.write_string(0, 0, "亚马逊卖家支持案例记录 — 深圳团队", title_fmt)
        ws.write_string(1, 0, "每个案例一行；时间为北京时间；状态、站点等请用下拉选项。", sub_fmt)
    else:
        ws.write_string(0, 0, "Amazon Seller Support case log — Team Shenzhen", title_fmt)
        ws.write_string(
            1,
            0,
            "One row per case. Times are Beijing time. Use the dropdowns; IDs as shown in "
            "Seller Central.",
            sub_fmt,
        )
    header_row = 3  # row 3 (0-based): title, note, blank, header
    for col, (name, width) in enumerate(COLUMNS):
        ws.write_string(header_row, col, ZH_HEADERS[name] if zh else name, head_fmt)
        ws.set_column(col, col, width)

    row = header_row
    for case in cases:
        row += 1
        vals = values(case, zh)
        for col, (name, _width) in enumerate(COLUMNS):
            value = vals[name]
            if value is None or value == "":
                continue
            if name == "Case ID":
                if case.numeric_id:
                    ws.write_number(row, col, int(value), id_fmt)
                else:
                    ws.write_string(row, col, value, text_fmt)
            elif isinstance(value, datetime):
                style = rng.choices([0, 1, 2], weights=[50, 25, 25])[0] if zh else 0
                if style:
                    ws.write_string(row, col, date_text(value, style))
                else:
                    ws.write_datetime(row, col, value, dt_fmt)
            elif isinstance(value, int):
                ws.write_number(row, col, value)
            else:
                ws.write_string(row, col, str(value))
    last_row = row

    ws.freeze_panes(header_row + 1, 1)
    ws.autofilter(header_row, 0, last_row, len(COLUMNS) - 1)
    ws.set_row(header_row, 20)

    # The Lists tab and dropdowns pointing at it (room for new rows below the data).
    list_cols = lists_columns(zh)
    list_head = wb.add_format({"bold": True, "bg_color": "#DDEBF7", "border": 1})
    for col, (name, items) in enumerate(list_cols):
        lists.write_string(0, col, name, list_head)
        for i, item in enumerate(items, 1):
            lists.write_string(i, col, item)
        lists.set_column(col, col, max(14, max(len(x) for x in items) + 2))
    lists.freeze_panes(1, 0)
    names = [n for n, _w in COLUMNS]
    for column, list_index in LIST_FOR_COLUMN.items():
        items = list_cols[list_index][1]
        letter = xlsxwriter.utility.xl_col_to_name(list_index)
        source = f"='{lists_name}'!${letter}$2:${letter}${len(items) + 1}"
        col = names.index(column)
        ws.data_validation(
            header_row + 1,
            col,
            header_row + 1000,
            col,
            {
                "validate": "list",
                "source": source,
                # Seller Central labels and pasted values must stay possible: warn, don't block.
                "error_type": "warning",
                "error_title": "Not in the list" if not zh else "不在列表中",
                "error_message": (
                    "Pick a value from the Lists tab, or add it there first."
                    if not zh
                    else "请从下拉选项中选择，或先在“下拉选项”页添加。"
                ),
            },
        )
    fu_col = names.index("Follow-ups")
    ws.data_validation(
        header_row + 1,
        fu_col,
        header_row + 1000,
        fu_col,
        {"validate": "integer", "criteria": ">=", "value": 0},
    )

    # Templates tab: escalation and follow-up messages the team copies into Seller Central.
    wrap = wb.add_format({"text_wrap": True, "valign": "top"})
    bold_top = wb.add_format({"bold": True, "text_wrap": True, "valign": "top"})
    templates.write_string(0, 0, "用途" if zh else "When to use", list_head)
    templates.write_string(0, 1, "模板（英文，发给亚马逊）" if zh else "Message", list_head)
    templates.set_column(0, 0, 34)
    templates.set_column(1, 1, 100)
    for i, (use, text) in enumerate(TEMPLATES, 1):
        templates.write_string(i, 0, use, bold_top)
        templates.write_string(i, 1, text, wrap)
        templates.set_row(i, 15 * (text.count("\n") + 2))
    templates.write_string(
        len(TEMPLATES) + 2,
        0,
        "Placeholders in {braces}; quote every related case ID."
        if not zh
        else "{ } 内为占位符；写明所有关联案例编号。",
    )
    ws.activate()
    wb.close()


def main() -> None:
    rng = random.Random(SEED)
    gen = Gen(rng)
    cases = history(rng, gen) + recent(gen)
    floor_minutes(cases)
    cases.sort(key=sort_key)
    assign_ids(rng, cases)

    write_workbook(HERE / "case_log.xlsx", cases, zh=False)
    write_workbook(HERE / "case_log_zh.xlsx", cases, zh=True)

    evaluated = evaluated_flags(HERE / "case_log.xlsx")
    flags: dict[str, list[Case]] = {}
    problems = []
    for case in cases:
        flag = evaluated.get(case.case_id)
        if flag:
            flags.setdefault(flag, []).append(case)
        if case.expect and case.expect != flag:
            problems.append(f"{case.key}: meant {case.expect}, evaluates to {flag}")
        if not case.expect and case.status == "Open":
            problems.append(f"{case.key}: open without an intended flag")
    if problems:
        raise SystemExit("self-check failed:\n  " + "\n  ".join(problems))

    dated = [c.opened for c in cases if isinstance(c.opened, datetime)]
    print(
        f"wrote case_log.xlsx and case_log_zh.xlsx: {len(cases)} cases, opened "
        f"{min(dated):%Y-%m-%d} .. {max(dated):%Y-%m-%d %H:%M}"
    )
    print(f"expected flags at {AS_OF:%Y-%m-%dT%H:%M} (Asia/Shanghai), default rules:")
    for flag in FLAG_ORDER:
        found = flags.get(flag, [])
        print(f"  {flag:<10} {len(found):>2}")
        for c in found:
            print(f"    {c.case_id}  {c.key:<4} {WHY.get(c.key, 'generated history')}")
    warn = [c.case_id for c in cases if c.status == "Resolved" and not c.resolution]
    print(f"  warning    {len(warn):>2}  {' '.join(warn)} (Resolved without Resolution)")


if __name__ == "__main__":
    main()
