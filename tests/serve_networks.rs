//! `preauth serve` with API keys limited to networks (`create api key … from '10.0.0.0/8'`):
//! the binary as a user runs it, on free loopback ports (IPv4 and IPv6), with and without
//! `--trusted-proxy` in front. Other networks are reached only as `X-Forwarded-For`
//! entries written by the test, which plays the reverse proxy on 127.0.0.1.

mod common;

use common::serve::{Server, api_key};
use common::{Workspace, exchange};
use serde_json::Value;

/// A key of `scope` named `name`, limited to `networks` (as written in the statement).
fn limited_key(ws: &Workspace, name: &str, scope: &str, networks: &str) -> String {
    let outcome = ws.run_c(&format!(
        "create api key '{name}' scope {scope} from {networks}"
    ));
    outcome.exits(0).warns(&["usable from", "only"]);
    outcome.stdout.trim().to_string()
}

/// `GET /api/v1/connections` of `server` with `key`, sending `X-Forwarded-For: chain`
/// when given; the status and the JSON body.
fn list(server: &Server, key: &str, chain: Option<&str>) -> (u16, Value) {
    call(server, "GET", "/api/v1/connections", key, chain)
}

fn call(server: &Server, method: &str, path: &str, key: &str, chain: Option<&str>) -> (u16, Value) {
    let mut headers = format!("Authorization: Bearer {key}\r\n");
    if let Some(chain) = chain {
        headers += &format!("X-Forwarded-For: {chain}\r\n");
    }
    let answer = exchange(method, &format!("{}{path}", server.url), &headers, "");
    let body = serde_json::from_str(&answer.body).unwrap_or(Value::Null);
    (answer.status, body)
}

/// Asserts a 403 `address_not_allowed` that names the key, the address and the networks.
#[track_caller]
fn assert_refused(answer: &(u16, Value), key: &str, from: &str, networks: &str) {
    let (status, body) = answer;
    assert_eq!(*status, 403, "{body}");
    assert_eq!(body["error"], "address_not_allowed", "{body}");
    let message = body["message"].as_str().expect("a message");
    for part in [
        format!("the API key '{key}' is not allowed from {from};"),
        format!("its networks are {networks};"),
        "ask the operator to replace the key with a new one".to_string(),
    ] {
        assert!(message.contains(&part), "{part:?} not in {message:?}");
    }
}

#[test]
fn a_key_limited_to_networks_works_from_them_and_is_refused_elsewhere_with_a_log_line() {
    let ws = Workspace::new();
    let local = limited_key(&ws, "local", "admin", "'127.0.0.0/8'");
    let ten = limited_key(&ws, "ten", "admin", "'10.0.0.0/8', '2001:db8::/32'");
    let jobs = limited_key(&ws, "jobs", "token", "'10.0.0.0/8'");
    let anywhere = api_key(&ws, "anywhere", "admin");

    // `show api keys` lists the networks, `any` for a key that is not limited.
    let shown = ws.run_c("show api keys");
    shown.exits(0).says(&[
        "networks",
        "127.0.0.0/8",
        "10.0.0.0/8, 2001:db8::/32",
        "any",
    ]);
    ws.run(&["--format", "json", "-c", "show api keys"])
        .exits(0)
        .says(&[r#""name":"jobs""#, r#""networks":"10.0.0.0/8""#]);

    let mut server = Server::start(&ws, &[]);
    assert_eq!(list(&server, &local, None).0, 200);
    assert_eq!(
        list(&server, &anywhere, None).0,
        200,
        "old keys work from anywhere"
    );
    let refused = list(&server, &ten, None);
    assert_refused(&refused, "ten", "127.0.0.1", "10.0.0.0/8, 2001:db8::/32");
    server.wait_for_stderr(0, "API key 'ten': was refused the API from 127.0.0.1");
    // Without --trusted-proxy, X-Forwarded-For is the client's word: ignored.
    let forged = list(&server, &ten, Some("10.1.2.3"));
    assert_refused(&forged, "ten", "127.0.0.1", "10.0.0.0/8, 2001:db8::/32");
    // The token route too, before it looks at the connection.
    let token = call(
        &server,
        "POST",
        "/api/v1/connections/nosuch/token",
        &jobs,
        None,
    );
    assert_refused(&token, "jobs", "127.0.0.1", "10.0.0.0/8");
    server.wait_for_stderr(0, "API key 'jobs': was refused the API from 127.0.0.1");
    // An unknown key is still 401: the networks come after the key.
    let (status, _) = list(&server, "pak_not-a-key", None);
    assert_eq!(status, 401);
    let stopped = server.stop();
    stopped.keeps_secret(&[&local, &ten, &jobs, &anywhere]);
    let refusals = stopped
        .stderr
        .lines()
        .filter(|l| l.contains("was refused the API"))
        .count();
    assert_eq!(refusals, 3, "one line per refusal:\n{}", stopped.stderr);
}

#[test]
fn bad_network_text_is_refused_with_an_example_and_nothing_is_stored() {
    let ws = Workspace::new();
    for (bad, says) in [
        ("'10.0.0.0/33'", "'10.0.0.0/33' is not a network"),
        ("'10.0.0.0/8', 'intranet'", "'intranet' is not a network"),
        (
            "'10.1.2.3/8'",
            "write the network's first address, '10.0.0.0/8'",
        ),
    ] {
        ws.run_c(&format!("create api key 'bad' scope token from {bad}"))
            .exits(2)
            .warns(&[says, "10.0.0.0/8"]);
    }
    // Nothing was stored: not even the settings folder, which `show api keys` says.
    assert!(!ws.settings().exists());
    ws.run_c("show api keys")
        .exits(1)
        .warns(&["does not exist"]);
    // The same parser checks --trusted-proxy before anything starts.
    ws.run(&[
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--trusted-proxy",
        "proxy.local",
    ])
    .exits(2)
    .warns(&["'proxy.local' is not a network", "--trusted-proxy"]);
}

#[test]
fn behind_a_trusted_proxy_the_client_is_the_right_most_address_it_did_not_write() {
    let ws = Workspace::new();
    let ten = limited_key(&ws, "ten", "admin", "'10.0.0.0/8'");
    let server = Server::start(&ws, &["--trusted-proxy", "127.0.0.1/32"]);
    assert_eq!(list(&server, &ten, Some("10.1.2.3")).0, 200);
    // A client that sends its own X-Forwarded-For gets its real address appended.
    let spoofed = list(&server, &ten, Some("10.1.2.3, 192.0.2.9"));
    assert_refused(&spoofed, "ten", "192.0.2.9", "10.0.0.0/8");
    server.wait_for_stderr(0, "API key 'ten': was refused the API from 192.0.2.9");
    // Without the header, the proxy itself is the client.
    assert_refused(&list(&server, &ten, None), "ten", "127.0.0.1", "10.0.0.0/8");
    // An entry that is no address: the client cannot be known, and is refused.
    let garbage = list(&server, &ten, Some("unknown"));
    let (status, body) = &garbage;
    assert_eq!(
        (*status, body["error"].as_str()),
        (403, Some("address_not_allowed"))
    );
    assert!(
        body["message"]
            .as_str()
            .unwrap_or("")
            .contains("--trusted-proxy"),
        "{body}"
    );
}

#[test]
fn a_key_limited_to_ipv6_loopback_works_over_ipv6_only() {
    let ws = Workspace::new();
    let six = limited_key(&ws, "six", "admin", "'::1'");
    let over_v6 = Server::start_on(&ws, "[::1]:0", &[]);
    assert!(over_v6.url.starts_with("http://[::1]:"), "{}", over_v6.url);
    assert_eq!(list(&over_v6, &six, None).0, 200);
    let over_v4 = Server::start(&ws, &[]);
    assert_refused(&list(&over_v4, &six, None), "six", "127.0.0.1", "::1/128");
}

#[test]
fn the_pages_refuse_a_key_login_and_its_session_from_outside_its_networks() {
    let ws = Workspace::new();
    let ten = limited_key(&ws, "ten-admin", "admin", "'10.0.0.0/8'");
    let server = Server::start(&ws, &["--trusted-proxy", "127.0.0.1"]);
    let mut person = server.visitor();

    // From 127.0.0.1 (the proxy itself), the key does not open the pages.
    let form = person.get("/login");
    let csrf = common::serve::Pages::csrf(&form);
    let refused = person.post("/login", &[("csrf", &csrf), ("api_key", &ten)]);
    assert_eq!(refused.status, 403, "{}", refused.body);
    assert!(
        refused
            .body
            .contains("the API key &#39;ten-admin&#39; is not allowed from 127.0.0.1")
            || refused
                .body
                .contains("the API key 'ten-admin' is not allowed from 127.0.0.1"),
        "{}",
        refused.body
    );
    assert!(!refused.body.contains(&ten), "a key is never sent back");
    server.wait_for_stderr(
        0,
        "API key 'ten-admin': was refused the pages from 127.0.0.1",
    );

    // From inside its network (through the proxy), it does.
    person.forward_for("10.1.2.3");
    let form = person.get("/login");
    let csrf = common::serve::Pages::csrf(&form);
    let signed = person.post("/login", &[("csrf", &csrf), ("api_key", &ten)]);
    assert_eq!(signed.status, 303, "{}", signed.body);
    assert_eq!(person.get("/connections").status, 200);

    // The same session, carried to another network, is refused there, and only there.
    person.forward_for("192.0.2.9");
    let elsewhere = person.get("/connections");
    assert_eq!(elsewhere.status, 403, "{}", elsewhere.body);
    assert!(elsewhere.body.contains("192.0.2.9"), "{}", elsewhere.body);
    server.wait_for_stderr(
        0,
        "API key 'ten-admin': was refused the pages from 192.0.2.9",
    );
    person.forward_for("10.1.2.3");
    assert_eq!(person.get("/connections").status, 200);
}
