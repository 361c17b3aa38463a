"""email_analysis: hand-written mail files decoded field by field, quote stripping, tone,
response times and starters on a hand-built mailbox, then the template on an engine."""

from __future__ import annotations

import base64
import shutil
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

from zerogate import Registry
from zerogate.domain.model import WorkflowState
from zerogate.errors import InvalidInput
from zerogate.templates import TemplateParamsInvalid
from zerogate.workflows.mail import add_emails, bodies, files, parsing, write_sample_mbox
from zerogate.workflows.mail.engagement import engagement, reply_stats
from zerogate.workflows.mail.models import EmailReport
from zerogate.workflows.mail.ranking import contact_strength
from zerogate.workflows.mail.records import Mail, counterparts, load
from zerogate.workflows.mail.sentiment import contact_tone, message_tone
from zerogate.workflows.strength import DAY, Interaction

DATA = Path(__file__).parent / "data" / "emails"
ADA, OMAR, GRACE = "ada.bauer@meridian.org", "omar.haddad@harbor.org", "grace.ito@harbor.org"
GRANT = "<20250303101455.7731@cedar.org>"


def read(name: str, tmp_path: Path, fmt: str = "auto") -> tuple[list[Mail], files.Tally]:
    out = tmp_path / f"{name}.jsonl"
    tally = files.read_mailbox(DATA / name, fmt, out)
    return list(load(out)), tally


# --- decoding the hand-written files -----------------------------------------------------

def test_eml_decodes_latin1_headers_qp_alternative_and_counts_the_attachment(
        tmp_path: Path) -> None:
    [m], tally = read("grant_offer.eml", tmp_path)
    assert m.subject == "Résultat: subvention approuvée"  # RFC 2047, iso-8859-1
    assert m.sender == "francois.dupre@cedar.org"  # lower-cased
    assert m.names["francois.dupre@cedar.org"] == "François Dupré"
    assert (m.to, m.cc) == ((ADA,), ("grants@cedar.org",))
    assert m.date == datetime(2025, 3, 3, 9, 14, 55, tzinfo=UTC)  # +0100 made UTC
    # the plain part is chosen over the HTML one; QP and the charset decoded; the
    # "-- " signature dropped
    assert m.text == ("Dear Ada,\n\nWonderful news: the board approved the café programme "
                      "grant! Thank you for such an excellent application.\n\nBest,\nFrançois")
    assert m.dropped_lines == 2
    assert m.attachments == tally.attachments == 1
    assert m.thread == m.id == GRANT


def test_html_only_reply_is_reduced_to_text_without_quote_or_script(tmp_path: Path) -> None:
    [m], _ = read("html_reply.eml", tmp_path)
    assert m.text == ("Thank you so much, François! We are delighted & grateful.\n\n"
                      "I will send the signed agreement on Friday.")
    assert m.dropped_lines == 3  # the attribution and two blockquoted paragraphs
    assert (m.in_reply_to, m.references, m.thread) == (GRANT, (GRANT,), GRANT)
    assert m.subject == "Re: Résultat: subvention approuvée" and m.attachments == 0


def test_mbox_links_the_thread_flags_the_undated_and_skips_the_senderless(
        tmp_path: Path) -> None:
    mails, tally = read("thread.mbox", tmp_path)
    by_id = {m.id.split(".")[0].strip("<"): m for m in mails}
    assert list(by_id) == ["m1", "m2", "m3", "m4", "m5"]
    # m4 names only its parent (In-Reply-To m3); the root is followed through m3
    assert {k: m.thread for k, m in by_id.items()} == {
        **dict.fromkeys(["m1", "m2", "m3", "m4"], "<m1.budget@meridian.org>"),
        "m5": "<m5.visit@harbor.org>"}
    assert by_id["m4"].date is None and by_id["m4"].date_problem == "missing"
    assert tally.undated == [{"id": "<m4.budget@harbor.org>", "problem": "missing"}]
    assert dict(tally.skipped) == {"no sender address (From)": 1}  # the bounce
    assert by_id["m2"].date == datetime(2025, 3, 3, 13, 30, tzinfo=UTC)
    # the wrapped "On ... wrote:" and its quote dropped; ">From" unescaped and kept
    assert by_id["m2"].text == ("Ada,\n\nI am disappointed: the cuts to the mentoring line "
                                "are a serious problem\nand the board will be unhappy.\n"
                                "From our side the numbers do not work.")
    assert "mentoring line from the reserve" in by_id["m3"].text  # interleaved answer kept
    assert "> the cuts" not in by_id["m3"].text
    assert (tally.first, tally.latest) == (by_id["m1"].date, by_id["m5"].date)


def test_own_text_drops_quotes_attributions_forwards_and_signatures() -> None:
    top_posted = "Fine by me.\n\nOn Tue, 4 Mar 2025, Ada wrote:\nEarlier text\nmore"
    assert bodies.own_text(top_posted) == ("Fine by me.", 3)
    outlook = "Agreed.\n-----Original Message-----\nFrom: Ada\nSent: Monday"
    assert bodies.own_text(outlook) == ("Agreed.", 3)
    inline = "On Mon, Omar wrote:\n> point one\nanswer one\n>> older\n> point two\nanswer two"
    assert bodies.own_text(inline) == ("answer one\nanswer two", 4)
    # "on ... wrote" inside a sentence is not an attribution
    assert bodies.own_text("On Monday Ada wrote the draft.")[0] == "On Monday Ada wrote the draft."


def test_html_to_text_quotes_blockquotes_and_drops_scripts() -> None:
    html = ("<html><head><title>x</title><style>p{}</style></head><body><p>Hi &amp; bye"
            "<br>line two</p><blockquote><p>old</p><blockquote>older</blockquote></blockquote>"
            "<script>alert(1)</script><div>end</div></body></html>")
    assert bodies.html_to_text(html) == "Hi & bye\n\nline two\n\n> old\n\n> > older\n\nend"


def test_detect_format_and_unusable_files(tmp_path: Path) -> None:
    eml, box = tmp_path / "a.eml", tmp_path / "b.mbox"
    eml.write_text("From: a@b.org\n\nhi\n")
    box.write_text("From a@b.org Mon Mar  3 09:00:00 2025\nFrom: a@b.org\n\nhi\n")
    assert files.detect_format(eml, "auto") == "eml"
    assert files.detect_format(box, "auto") == "mbox"
    with pytest.raises(InvalidInput, match="does not start with a 'From ' line"):
        files.detect_format(eml, "mbox")
    (tmp_path / "empty").write_text("  \n")
    with pytest.raises(InvalidInput, match="empty"):
        files.detect_format(tmp_path / "empty", "auto")
    (tmp_path / "png").write_bytes(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR")
    with pytest.raises(InvalidInput, match="binary"):
        files.detect_format(tmp_path / "png", "auto")


def test_thread_roots_follow_known_messages_and_survive_cycles() -> None:
    links = {"a": "a", "b": "a", "c": "b", "d": "missing", "x": "y", "y": "x"}
    roots = files.thread_roots(links)
    assert {k: roots[k] for k in "abcd"} == {"a": "a", "b": "a", "c": "a", "d": "missing"}
    assert roots["x"] in {"x", "y"}


def test_me_is_checked_or_guessed() -> None:
    tally = files.Tally()
    for sender, to in ((ADA, OMAR), (OMAR, ADA), (GRACE, ADA), (ADA, GRACE)):
        tally.add(Mail(id=f"{sender}{to}", sender=sender, to=(to,)))
    assert files.choose_me([], tally) == ([ADA], True)
    assert files.choose_me([" Ada.Bauer@Meridian.org"], tally) == ([ADA], False)
    with pytest.raises(InvalidInput, match=r"none of the addresses in 'me' \(x@y.org\)"):
        files.choose_me(["x@y.org"], tally)


def test_sample_is_seeded_and_the_header_cache_changes_nothing(tmp_path: Path) -> None:
    a, b, c = tmp_path / "a.mbox", tmp_path / "b.mbox", tmp_path / "c.mbox"
    write_sample_mbox(a, 4)
    write_sample_mbox(b, 4)
    write_sample_mbox(c, 5)
    assert a.read_bytes() == b.read_bytes() != c.read_bytes()
    raws = list(files.raw_messages(a, "mbox"))
    policy = parsing.mail_policy()
    cached = [parsing.parse_message(raw, i, policy) for i, raw in enumerate(raws)]
    assert cached == [parsing.parse_message(raw, i) for i, raw in enumerate(raws)]
    seen = policy.header_factory.seen  # type: ignore[attr-defined]
    assert 0 < len(seen) <= parsing.CACHE_SIZE
    # the cache belongs to its policy (one per file read), never shared between them
    fresh = parsing.mail_policy().header_factory
    assert fresh is not policy.header_factory and fresh.seen == {}  # type: ignore[attr-defined]


# --- tone --------------------------------------------------------------------------------

def test_tone_sign_and_greetings_left_out() -> None:
    vader = SentimentIntensityAnalyzer()
    happy = message_tone(vader, "Thank you so much, this is wonderful news! We love it.")
    angry = message_tone(vader, "I am furious. The report is late again and this is awful.")
    assert happy is not None and happy > 0.5
    assert angry is not None and angry < -0.5
    one = "The payment is late and that is terrible."
    assert message_tone(vader, f"Hi Ada,\n\n{one}\n\nBest,\nOmar") == pytest.approx(
        vader.polarity_scores(one)["compound"])
    assert message_tone(vader, "  \n--\n") is None


def test_contact_tone_mean_and_trend_by_hand() -> None:
    points = [(0.0, -0.5, True), (30 * DAY, 0.0, False), (60 * DAY, 0.5, True),
              (None, 0.3, True)]
    tone = contact_tone(points)
    # slope 0.5 per 30 days over the three dated points; the undated one counts in the means
    assert tone == {"mean": 0.075, "n": 4, "theirs": pytest.approx(0.1),
                    "slope_30d": 0.5, "trend": "improving"}
    assert contact_tone(points[:2])["trend"] is None  # two points: no trend


# --- engagement on a hand-built mailbox --------------------------------------------------

H = 3600.0
A, B, ME = "a@x.org", "b@y.org", "me@us.org"


def msg(mid: str, sender: str, to: str, hour: float, refs: tuple[str, ...] = (),
        thread: str = "") -> Mail:
    return Mail(id=mid, sender=sender, to=(to,), date=datetime.fromtimestamp(hour * H, UTC),
                in_reply_to=refs[-1] if refs else None, references=refs,
                thread=thread or (refs[0] if refs else mid))


MAILBOX = [
    msg("t1", ME, A, 0), msg("t2", A, ME, 5, ("t1",)), msg("t3", ME, A, 7, ("t1", "t2")),
    msg("t4", A, ME, 17, ("t1", "t2", "t3")), msg("t5", ME, A, 47, ("t1", "t2", "t3", "t4")),
    msg("u1", A, ME, 100), msg("u2", ME, A, 103, ("u1",)), msg("u3", A, ME, 104, ("u1", "u2")),
    msg("v1", B, ME, 10),
]


def test_response_times_starters_depths_and_awaiting_by_hand() -> None:
    found = engagement(MAILBOX, frozenset({ME}), as_of=124 * H, asks={"v1"})
    # ours to A: 2 h (t3), 30 h (t5), 3 h (u2); theirs: 5 h (t2), 10 h (t4), 1 h (u3)
    # p90 interpolates: sorted [2, 3, 30] -> 3 + 0.8 * 27 = 24.6; [1, 5, 10] -> 9.0
    assert found["our_replies"] == {"replies": 3, "median_hours": 3.0, "p90_hours": 24.6}
    assert found["their_replies"] == {"replies": 3, "median_hours": 5.0, "p90_hours": 9.0}
    assert found["started"] == {"us": 1, "them": 2}
    assert found["depths"] == {"1": 1, "3": 1, "5": 1}
    assert [(a["thread"], a["asks"], a["waiting_days"]) for a in found["awaiting"]] == [
        ("v1", True, 4.75), ("u1", False, 0.83)]  # 114 h and 20 h before as_of
    assert found["contacts"][A] == {
        "our_replies": found["our_replies"], "their_replies": found["their_replies"],
        "started_by_us": 1, "started_by_them": 1, "awaiting_reply": 1}
    assert found["contacts"][B]["started_by_them"] == 1


def test_an_undated_answer_to_the_latest_message_is_later_still() -> None:
    last = Mail(id="t6", sender=A, to=(ME,), in_reply_to="t5", thread="t1")
    found = engagement([*MAILBOX[:5], last], frozenset({ME}), as_of=None)
    assert [(a["id"], a["waiting_days"]) for a in found["awaiting"]] == [("t6", None)]


def test_counterparts_and_reply_stats() -> None:
    group = Mail(id="g", sender=ME, to=(A, ME), cc=(B, A))
    assert counterparts(group, frozenset({ME})) == [A, B]
    assert counterparts(MAILBOX[1], frozenset({ME})) == [A]
    assert reply_stats([]) == {"replies": 0, "median_hours": None, "p90_hours": None}


def test_strength_is_moved_by_tone_by_hand() -> None:
    # one message of ours today: recency 1, frequency 1 - e^(-1/6), reciprocity 0
    base = 100 * (0.40 + 0.35 * 0.15352)
    got = contact_strength([Interaction(1000 * DAY, True)], 1000 * DAY, 90.0,
                           {"mean": -1.0, "n": 1})
    assert got["base_score"] == pytest.approx(base, abs=0.01)
    assert got["tone_points"] == -2.5  # 10 * -1 * 1 / (1 + 3)
    assert got["score"] == pytest.approx(base - 2.5, abs=0.01) and got["level"] == "moderate"
    warm = contact_strength([], None, 90.0, {"mean": 0.5, "n": 3})
    assert (warm["base_score"], warm["tone_points"], warm["score"]) == (0.0, 2.5, 2.5)
    assert contact_strength([], None, 90.0, {"mean": -0.9, "n": 9})["score"] == 0.0


# --- the template on an engine -----------------------------------------------------------

Rig = Callable[..., Any]


async def test_inline_eml_and_base64_reply_end_to_end(template_rig: Rig) -> None:
    offer = (DATA / "grant_offer.eml").read_text()
    reply = base64.b64encode((DATA / "html_reply.eml").read_bytes()).decode()
    async with template_rig(add_emails) as rig:
        first = await rig.run("email_analysis", {"source": {"text": offer}, "format": "eml",
                                                 "me": ["Ada.Bauer@meridian.org"]})
        second = await rig.run("email_analysis", {"source": {"base64": reply}})
    report = EmailReport.model_validate(first["email_report"])
    assert (report.totals.messages, report.totals.attachments, report.totals.sent) == (1, 1, 0)
    assert report.totals.me == [ADA] and not report.totals.me_guessed
    [francois] = report.contacts
    assert (francois.address, francois.name) == ("francois.dupre@cedar.org", "François Dupré")
    assert francois.received == 1 and francois.sentiment is not None
    assert francois.sentiment > 0.5 and francois.tone_points > 0
    assert [a.reasons for a in report.attention] == [["awaiting our reply for 0 days"]]
    assert report.attention[0].subject == "Résultat: subvention approuvée"
    # one message from two addresses: the recipient is taken as us
    other = EmailReport.model_validate(second["email_report"])
    assert other.totals.me == ["francois.dupre@cedar.org"] and other.totals.me_guessed
    assert [c.address for c in other.contacts] == [ADA]


async def test_mbox_in_the_inbox_end_to_end(template_rig: Rig) -> None:
    async with template_rig(add_emails) as rig:
        (rig.inbox() / "mail").mkdir()
        shutil.copy(DATA / "thread.mbox", rig.inbox() / "mail" / "march.mbox")
        results = await rig.run("email_analysis", {
            "source": {"file": "mail/march.mbox"}, "format": "mbox", "half_life_days": 30,
            "as_of": "2025-03-10T12:00:00"})
    report = EmailReport.model_validate(results["email_report"])
    t = report.totals
    assert (t.messages, t.threads, t.sent, t.received, t.skipped, t.undated) == (5, 2, 2, 3, 1, 1)
    assert t.me == [ADA] and t.me_guessed and t.as_of == datetime(2025, 3, 10, 12, tzinfo=UTC)
    assert report.flagged == [{"id": "<m4.budget@harbor.org>", "problem": "missing"}]
    # our reply m3 came 19 h after m2; Omar's m2 4.5 h after m1; m4 is undated
    assert (report.our_replies.median_hours, report.their_replies.median_hours) == (19.0, 4.5)
    assert (report.started_by_us, report.started_by_them) == (1, 1)
    assert report.thread_depths == {"1": 1, "3": 1}
    omar = next(c for c in report.contacts if c.address == OMAR)
    assert (omar.sent, omar.received, omar.interactions) == (2, 2, 3)  # m4 has no date
    assert omar.awaiting_reply == 1 and omar.started_by_us == 1
    assert [a.thread for a in report.attention] == ["<m5.visit@harbor.org>",
                                                    "<m1.budget@meridian.org>"]
    assert report.attention[0].reasons == ["awaiting our reply for 4 days, asks a question"]
    assert [c.score for c in report.contacts] == sorted(
        (c.score for c in report.contacts), reverse=True)


async def test_sample_mailbox_end_to_end(template_rig: Rig) -> None:
    async with template_rig(add_emails) as rig:
        results = await rig.run("email_analysis", {"source": {"sample": 11}})
    report = EmailReport.model_validate(results["email_report"])
    t = report.totals
    assert 250 <= t.messages <= 350 and t.threads == 80 and t.undated == 2
    assert t.me_guessed and t.attachments > 0 and t.as_of == t.latest
    assert {f["problem"] for f in report.flagged} == {
        "missing", "unparsable: 'next Tuesday morning'"}
    assert report.tone.positive > 0 and report.tone.negative > 0
    assert report.our_replies.replies > 50 and report.their_replies.replies > 50
    assert sum(report.thread_depths.values()) == 80
    assert report.started_by_us + report.started_by_them == 80
    scores = [c.score for c in report.contacts]
    assert scores == sorted(scores, reverse=True) and len(scores) > 10
    assert any(c.trend is not None for c in report.contacts)
    assert 0 < len(report.attention) <= 20
    assert results["email_sentiment"]["analyzer_load_s"] < 1.0


async def test_unparsable_file_fails_with_a_clear_message(template_rig: Rig) -> None:
    async with template_rig(add_emails) as rig:
        csv = await rig.outcome("email_analysis", {"source": {"text": "name,amount\n1,2\n"}})
        wrong = await rig.outcome("email_analysis", {
            "source": {"text": (DATA / "html_reply.eml").read_text()}, "format": "mbox"})
        stranger = await rig.outcome("email_analysis", {
            "source": {"text": (DATA / "html_reply.eml").read_text()}, "me": ["x@y.org"]})
    assert csv.state is WorkflowState.FAILED
    assert "no usable e-mail message (read as eml): of 1 message(s), 1 no sender address" \
        in csv.errors["email_parse"]
    assert "does not start with a 'From ' line" in wrong.errors["email_parse"]
    assert "none of the addresses in 'me' (x@y.org)" in stranger.errors["email_parse"]
    assert "invalid input" in stranger.errors["email_parse"]  # failed at once, no retries


def test_params_errors_name_each_problem() -> None:
    registry = Registry()
    add_emails(registry, Path("unused"))
    template = registry.templates.get("email_analysis")
    with pytest.raises(TemplateParamsInvalid) as caught:
        template.validate({"source": {"text": "x", "sample": 1}, "format": "pst",
                           "me": ["not-an-address"], "half_life_days": 0, "colour": "red"})
    locs = {tuple(e["loc"]) for e in caught.value.errors}
    assert locs == {("source",), ("format",), ("me", 0), ("half_life_days",), ("colour",)}
    ok = template.validate({"source": {"sample": 1}, "as_of": "2025-06-01T00:00:00"})
    assert ok.as_of == datetime(2025, 6, 1, tzinfo=UTC) and ok.me == []
