"""Bulk account creation from CSV (issue 18): users-import-csv reads RFC
4180 text (quoted fields, doubled quotes, line breaks inside quotes, CRLF,
a UTF-8 BOM, an optional header), creates each row's account on its own
and answers a result per row; malformed or oversized text creates
nothing.  Through the REST API and emberctl, against a running emberd."""

import json

import pytest

from rawxmpp import RawClient
from test_console_api import (Admin, assert_error, call, keyed, new_key,
                              csrv)  # noqa: F401 (the fixture)

ROUTE = "/api/v1/users/import-csv"


@pytest.fixture
def srv(csrv):
    """emberd with alice as admin and the console."""
    return csrv


@pytest.fixture
def api(srv):
    return keyed(srv, new_key(srv)["key"])


def import_csv(api, text):
    st, _, doc = api("POST", ROUTE, {"csv": text})
    assert st == 200, doc
    return doc


def user_info(api, jid):
    st, _, doc = api("GET", "/api/v1/users/" + jid)
    return st, doc


def can_log_in(srv, user, password):
    c = RawClient(srv.c2s_port)
    try:
        c.login(user, password)
        return True
    except Exception:
        return False
    finally:
        c.close()


def test_quoting_crlf_bom_and_header(srv, api):
    text = ("\ufeffjid,password,name,email\r\n"
            "dave@localhost,dave-pw,\"Lee, Ann\",dave@example.org\r\n"
            "erin@localhost,\"say \"\"hi\"\"\",\"Erin \"\"E\"\" Doe\"\r\n"
            "\r\n"
            " \t\r\n"
            "frank@localhost,\"two,parts\",\"Frank\r\nSmith\"\r\n"
            "gina@localhost,gina-pw\r\n")
    rows = import_csv(api, text)
    assert rows == [
        {"line": 2, "jid": "dave@localhost", "result": "created"},
        {"line": 3, "jid": "erin@localhost", "result": "created"},
        {"line": 6, "jid": "frank@localhost", "result": "created"},
        {"line": 8, "jid": "gina@localhost", "result": "created"},
    ]
    st, doc = user_info(api, "dave@localhost")
    assert st == 200 and doc["name"] == "Lee, Ann"
    assert doc["email"] == "dave@example.org"
    assert user_info(api, "erin@localhost")[1]["name"] == 'Erin "E" Doe'
    assert user_info(api, "frank@localhost")[1]["name"] == "Frank\r\nSmith"
    # No account named by the header.
    assert user_info(api, "jid")[0] in (400, 404)
    assert can_log_in(srv, "dave", "dave-pw")
    assert can_log_in(srv, "erin", 'say "hi"')
    assert can_log_in(srv, "frank", "two,parts")
    assert can_log_in(srv, "gina", "gina-pw")


def test_a_bad_row_fails_alone(srv, api):
    text = ("henry@localhost,henry-pw\n"
            "ivan@localhost,,Ivan\n"
            "alice@localhost,whatever\n"
            "judy@nowhere.example,judy-pw\n"
            "not a jid@@,x\n"
            "kim@localhost\n"
            "kim@localhost,a,b,c,d\n"
            "leo@localhost,leo-pw,Leo,not-an-address\n"
            "mia@localhost,mia-pw,Mia\n")
    rows = import_csv(api, text)
    assert [(r["line"], r["jid"]) for r in rows] == [
        (1, "henry@localhost"), (2, "ivan@localhost"), (3, "alice@localhost"),
        (4, "judy@nowhere.example"), (5, "not a jid@@"), (6, "kim@localhost"),
        (7, "kim@localhost"), (8, "leo@localhost"), (9, "mia@localhost")]
    res = [r["result"] for r in rows]
    assert res[0] == "created" and res[8] == "created"
    assert res[1] == "invalid user name or password for ivan@localhost"
    assert res[2] == "user alice@localhost already exists"
    assert res[3] == ("judy@nowhere.example: unknown host "
                      "nowhere.example")
    assert res[4] == "malformed JID"
    assert res[5].startswith("wrong number of fields: 1")
    assert res[6].startswith("wrong number of fields: 5")
    assert res[7] == "email: 'not-an-address' is not an address (not created)"
    for jid in ("ivan@localhost", "kim@localhost", "leo@localhost"):
        assert user_info(api, jid)[0] == 404, jid
    assert can_log_in(srv, "henry", "henry-pw")
    assert can_log_in(srv, "mia", "mia-pw")
    assert user_info(api, "mia@localhost")[1]["name"] == "Mia"
    # alice kept her own password.
    assert can_log_in(srv, "alice", "alice-secret")
    assert not can_log_in(srv, "alice", "whatever")


def test_unterminated_quote_names_its_line_and_creates_nothing(api):
    st, _, doc = api("POST", ROUTE, {"csv": "nina@localhost,pw\n"
                                            "\n"
                                            "olga@localhost,\"open,Olga\n"
                                            "pete@localhost,pw\n"})
    assert_error(st, doc, 400, "bad_request")
    assert doc["detail"].startswith("line 3: unterminated quote"), doc
    assert user_info(api, "nina@localhost")[0] == 404


def test_text_after_a_closing_quote_is_an_error(api):
    st, _, doc = api("POST", ROUTE, {"csv": "nina@localhost,pw\n"
                                            "olga@localhost,\"pw\"x\n"})
    assert_error(st, doc, 400, "bad_request")
    assert doc["detail"].startswith("line 2: malformed quoting"), doc
    assert user_info(api, "nina@localhost")[0] == 404


def test_oversize_input_is_refused_before_anything_is_created(api):
    big = "quinn@localhost,pw\n" + "x" * (1 << 20)
    st, _, doc = api("POST", ROUTE, {"csv": big})
    assert_error(st, doc, 400, "bad_request")
    assert "at most 1048576" in doc["detail"], doc
    many = "".join("u%d@localhost,pw\n" % i for i in range(10001))
    st, _, doc = api("POST", ROUTE, {"csv": many})
    assert_error(st, doc, 400, "bad_request")
    assert doc["detail"] == "more than 10000 rows: split the file"
    assert user_info(api, "quinn@localhost")[0] == 404
    assert user_info(api, "u0@localhost")[0] == 404


def test_empty_text_is_an_error(api):
    st, _, doc = api("POST", ROUTE, {"csv": "jid,password\n\n"})
    assert_error(st, doc, 400, "bad_request")
    assert doc["detail"].startswith("csv: no rows")


def test_only_admins_with_credentials(srv):
    body = {"csv": "rita@localhost,pw\n"}
    st, _, doc = call(srv, "POST", ROUTE, body)
    assert_error(st, doc, 401, "unauthorized")
    st, _, doc = Admin(srv)("POST", ROUTE, body, csrf=False)
    assert_error(st, doc, 403, "csrf")
    key = new_key(srv)
    st, _, _ = Admin(srv)("DELETE", "/api/v1/keys/" + key["id"])
    assert st in (200, 204)
    st, _, doc = keyed(srv, key["key"])("POST", ROUTE, body)
    assert_error(st, doc, 401, "unauthorized")
    # bob is no admin: the console does not let him in at all.
    st, _, doc = call(srv, "POST", "/api/v1/login",
                      {"jid": "bob@localhost", "password": "bob-secret"})
    assert_error(st, doc, 401, "unauthorized")
    assert user_info(keyed(srv, new_key(srv)["key"]), "rita@localhost")[0] \
        == 404


def test_audit_keeps_counts_never_passwords(srv, api):
    rows = import_csv(api, "sam@localhost,Sam-Pass-9931\n"
                           "tess@localhost,Tess-Pass-5521,Tess\n"
                           "alice@localhost,Alice-Pass-7700\n")
    assert [r["result"] for r in rows][:2] == ["created", "created"]
    st, _, doc = api("POST", ROUTE, {"csv": "uma@localhost,\"Uma-Pass-1\n"})
    assert st == 400
    out = json.loads(srv.ctl_ok("--json", "audit",
                                "--action=users-import-csv").stdout)
    # The test's own accounts were imported offline before the start.
    entries = [e for e in out["entries"]
               if not e["actor"].startswith("emberctl")]
    assert len(entries) == 2
    assert entries[0]["result"] != "ok"
    assert entries[0]["detail"] == {"bytes": len("uma@localhost,\"Uma-Pass-1\n")}
    assert entries[1]["result"] == "ok"
    assert entries[1]["detail"] == {"rows": 3, "created": 2}
    dumped = json.dumps(out)
    for secret in ("Sam-Pass-9931", "Tess-Pass-5521", "Alice-Pass-7700",
                   "Uma-Pass-1"):
        assert secret not in dumped
        assert secret not in srv.log()
        for f in srv.root.rglob("*.db*"):
            assert secret.encode() not in f.read_bytes(), f


def test_emberctl_reads_the_file_and_prints_a_table(srv, tmp_path):
    f = tmp_path / "people.csv"
    f.write_bytes(b"jid,password,name\r\n"
                  b"vera@localhost,vera-pw,\"Lee, Ann\"\r\n"
                  b"walt@localhost,walt-pw\r\n")
    r = srv.ctl("users-import-csv", f)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].split() == ["LINE", "JID", "RESULT"]
    assert lines[1].split() == ["2", "vera@localhost", "created"]
    assert lines[2].split() == ["3", "walt@localhost", "created"]
    info = json.loads(srv.ctl_ok("--json", "user-info",
                                 "vera@localhost").stdout)
    assert info["name"] == "Lee, Ann"
    assert can_log_in(srv, "walt", "walt-pw")
    # A failed row: its line in the table, exit status 1.
    r = srv.ctl("users-import-csv", "-",
                input="xena@localhost,xena-pw\nwalt@localhost,again\n")
    assert r.returncode == 1
    assert "user walt@localhost already exists" in r.stdout
    assert can_log_in(srv, "xena", "xena-pw")
    r = srv.ctl("users-import-csv", "-", input="yves@localhost,\"pw\n")
    assert r.returncode == 1
    assert "line 1: unterminated quote" in r.stderr


def test_emberctl_refuses_files_it_cannot_send(srv, tmp_path):
    f = tmp_path / "big.csv"
    f.write_text("".join("z%d@localhost,pw-%d\n" % (i, i)
                         for i in range(5000)))
    r = srv.ctl("users-import-csv", f)
    assert r.returncode == 1
    assert "too long for the control socket" in r.stderr
    assert srv.ctl("user-info", "z0@localhost").returncode == 1
    r = srv.ctl("users-import-csv", tmp_path / "missing.csv")
    assert r.returncode == 1 and "missing.csv" in r.stderr
    latin1 = tmp_path / "latin1.csv"
    latin1.write_bytes("ren\u00e9@localhost,pw,Ren\u00e9\n".encode("latin-1"))
    r = srv.ctl("users-import-csv", latin1)
    assert r.returncode == 1 and "not UTF-8 text" in r.stderr
