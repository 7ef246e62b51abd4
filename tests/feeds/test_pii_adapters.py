"""The PII corpus (``tests/pii_corpus.txt``, issue 15) through the real hotline and Weibo
adapters: what an adapter keeps outside the private hash (every string of every event,
every quarantined record's reason and raw bytes) holds none of the corpus's personal
values, separators removed and full-width digits folded before searching."""
from __future__ import annotations

import json
from datetime import timedelta

from feeds.hotline import HotlineAdapter
from feeds.weibo import WeiboAdapter
from tests.feeds import NOW, make_ctx
from tests.pii_corpus import (hits, hotline_payload, hotline_ref, load, strings_of,
                               weibo_payload, weibo_ref)

WHEN = NOW - timedelta(minutes=5)


def outputs(result, ref_of) -> dict[str, list[str]]:
    """ref → every string the adapter keeps outside the private hash for that record."""
    out: dict[str, list[str]] = {}
    for ev in result.events:
        out.setdefault(ev.id, []).extend(strings_of(ev.to_dict()))
    for rej in result.rejected:
        raw = rej.raw.decode("utf-8", "replace") if isinstance(rej.raw, bytes) else rej.raw
        out.setdefault(rej.ref, []).extend([rej.reason, raw])
    assert set(out) <= set(ref_of), sorted(set(out) - set(ref_of))[:5]
    return out


def test_the_corpus_through_the_hotline_and_weibo_adapters(capsys):
    lines = load()
    hot = [ln for ln in lines if ln.kind.startswith("hotline")]
    wb = [ln for ln in lines if ln.kind == "weibo"]
    assert len(lines) >= 200 and len(hot) >= 100 and len(wb) >= 100

    h = HotlineAdapter().parse(hotline_payload(hot), make_ctx("hotline"))
    w = WeiboAdapter().parse(weibo_payload(wb, WHEN), make_ctx("weibo"))
    by_ref = {**{hotline_ref(ln): ln for ln in hot}, **{weibo_ref(ln): ln for ln in wb}}
    seen = {**outputs(h, by_ref), **outputs(w, by_ref)}
    assert set(seen) == set(by_ref), "every line became an event or a quarantined record"

    found = [(ref, v) for ref, texts in seen.items()
             for v in hits("\n§\n".join(texts), by_ref[ref].values)]
    # and no line's values anywhere in what the adapters keep outside the private hash
    everything = "\n§\n".join(t for texts in seen.values() for t in texts)
    anywhere = sorted({v for ln in lines for v in hits(everything, ln.values)})
    accepted = len(h.events) + len(w.events)
    quarantined = len(h.rejected) + len(w.rejected)
    with capsys.disabled():
        print(f"\n[pii adapters] corpus {len(lines)} lines ({len(hot)} hotline, {len(wb)} Weibo): "
              f"{accepted} events, {quarantined} quarantined; hits {len(found)} in their own "
              f"record, {len(anywhere)} anywhere")
    assert found == [] and anywhere == []
    assert accepted >= len(lines) * 0.8 and quarantined >= 5   # both paths are exercised
    # the personal data went where officers find it
    private = "\n".join(json.dumps(p, ensure_ascii=False) for p in
                        list(h.private.values()) + list(w.private.values()))
    assert sum(bool(hits(private, ln.values)) for ln in lines) >= accepted * 0.9


def test_the_quarantined_weibo_status_keeps_its_shape_without_personal_data():
    ln = next(x for x in load() if x.kind == "weibo" and x.text.startswith("太堵了，谁来管管"))
    w = WeiboAdapter().parse(weibo_payload([ln], WHEN), make_ctx("weibo"))
    [rej] = w.rejected
    status = json.loads(rej.raw)
    assert rej.ref == weibo_ref(ln) and status["idstr"] == weibo_ref(ln).split(":")[1]
    assert status["created_at"] == json.loads(weibo_payload([ln], WHEN))["statuses"][0][
        "created_at"]
    assert status["user"]["screen_name"] == ln.name[0] + "**"
    assert hits(rej.raw.decode(), ln.values) == []
