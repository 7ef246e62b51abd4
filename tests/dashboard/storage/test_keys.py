from dashboard.storage.keys import Keys


def test_key_names_carry_the_city_hash_tag():
    k = Keys("lk", "taian")
    assert k.event("waze:abc") == "lk:{taian}:event:waze:abc"
    assert k.active("incident") == "lk:{taian}:active:incident"
    assert k.geo("report") == "lk:{taian}:geo:report"
    assert k.congestion() == "lk:{taian}:congestion"
    assert k.ts("new:incident", "20261001") == "lk:{taian}:ts:new:incident:20261001"
    assert k.changes() == "lk:{taian}:changes"
    assert k.quarantine("waze") == "lk:{taian}:quarantine:waze"
    assert k.feed("amap") == "lk:{taian}:feed:amap"
    assert k.audit() == "lk:{taian}:audit"
    assert k.version() == "lk:{taian}:version"


def test_every_key_of_a_city_hashes_to_one_slot():
    from redis.crc import key_slot

    k = Keys("lk", "jinan")
    names = [k.event("x"), k.active("report"), k.geo("incident"), k.congestion(),
             k.ts("m", "20260101"), k.changes(), k.quarantine("weibo"), k.feed("w"),
             k.audit(), k.version(), k.lease("waze"), k.cache("wall")]
    assert len({key_slot(n.encode()) for n in names}) == 1
    assert key_slot(Keys("lk", "taian").version().encode()) != key_slot(k.version().encode())
