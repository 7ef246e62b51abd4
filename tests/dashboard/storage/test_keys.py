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


# -- Lua scripts take every key name from Keys -------------------------------------------------
def key_names(k: Keys) -> set[str]:
    """The name after the city's base of every key a Keys method builds without an argument
    ("changes", "version", "units:geo", …)."""
    import inspect
    import re

    names = set()
    for name, method in inspect.getmembers(Keys, inspect.isfunction):
        params = list(inspect.signature(method).parameters.values())[1:]
        if name.startswith("_") or any(p.default is p.empty for p in params):
            continue
        key = method(k)
        if key.startswith(k.base) and re.fullmatch(r"[\w:-]+", key[len(k.base):]):
            names.add(key[len(k.base):])
    return names


def key_literals(lua: str, names: set[str]) -> list[str]:
    """Quoted literals of a Lua text that spell a key name or a key prefix: any ending in ':'
    (a prefix or a separator), any with the hash tag's braces, any equal to a Keys name.
    The operation named in a stream entry (``'op', 'congestion'``) is a value, not a key."""
    import re

    code = re.sub(r"--[^\n]*", "", lua)                  # comments
    code = re.sub(r"'op',\s*'[a-z_]+'", "'op', op", code)
    found = []
    for m in re.finditer(r"'([^'\\]*)'|\"([^\"\\]*)\"", code):
        s = m.group(1) if m.group(1) is not None else m.group(2)
        if s.endswith(":") or "{" in s or "}" in s or s in names:
            found.append(s)
    return found


def test_the_literal_check_catches_key_names():
    names = key_names(Keys("lk", "taian"))
    assert {"changes", "version", "units", "units:geo", "congestion"} <= names
    bad = ("local k = base .. 'event:' .. id\n"
           "redis.call('XADD', base .. 'changes', '*', 'op', 'new')\n"
           "redis.call('INCR', \"lk:{taian}:version\")\n"
           "local t = base .. 'ts' .. ':' .. day\n"
           "redis.call('SADD', 'units', id)  -- 'geo:' in a comment is fine\n")
    assert key_literals(bad, names) == ["event:", "changes", "lk:{taian}:version", ":", "units"]
    assert key_literals("redis.call('XADD', KEYS[3], '*', 'op', 'congestion')", names) == []


def test_no_lua_script_spells_a_key_name():
    """Every key a script touches comes in through KEYS or, for keys built from ids, as a
    prefix in ARGV taken from Keys: keys.py is the one place that spells key names."""
    from tests.dashboard.storage.test_script_slots import script_texts

    names = key_names(Keys("lk", "taian"))
    texts = script_texts()
    assert any(where.startswith("lua/") for where in texts) and len(texts) >= 8
    spelled = {where: key_literals(text, names) for where, text in texts.items()}
    assert not {where: found for where, found in spelled.items() if found}
