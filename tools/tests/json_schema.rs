//! docs/cli-json.md is the schema of every `--json` output: each command's example object.
//! This runs each command and checks its output has exactly the example's members, at every
//! level, with the same JSON types. A renamed or dropped member fails here before it breaks a
//! fleet's script.

mod common;

use common::*;
use serde_json::Value;

/// The ```json block under the heading that names `command`.
fn example(doc: &str, command: &str) -> Value {
    let heading = format!("## `iot-roots {command} ");
    let start = doc
        .find(&heading)
        .unwrap_or_else(|| panic!("docs/cli-json.md has no section for {command}"));
    let rest = &doc[start..];
    let open = rest.find("```json\n").expect("a json block") + "```json\n".len();
    let close = rest[open..].find("\n```").expect("block end");
    serde_json::from_str(&rest[open..open + close])
        .unwrap_or_else(|e| panic!("{command}: the example is not JSON: {e}"))
}

/// Where `actual` departs from the shape of `schema`.
fn shape(schema: &Value, actual: &Value, at: &str, out: &mut Vec<String>) {
    match (schema, actual) {
        (Value::Null, _) | (_, Value::Null) => {}
        (Value::Object(s), Value::Object(a)) => {
            for k in s.keys().filter(|k| !a.contains_key(*k)) {
                out.push(format!("{at}.{k}: missing"));
            }
            for k in a.keys().filter(|k| !s.contains_key(*k)) {
                out.push(format!("{at}.{k}: not in the schema"));
            }
            for (k, v) in s {
                if let Some(w) = a.get(k) {
                    shape(v, w, &format!("{at}.{k}"), out);
                }
            }
        }
        (Value::Array(s), Value::Array(a)) => {
            if let Some(s0) = s.first() {
                for (i, w) in a.iter().enumerate() {
                    shape(s0, w, &format!("{at}[{i}]"), out);
                }
            }
        }
        (s, a) if std::mem::discriminant(s) == std::mem::discriminant(a) => {}
        (s, a) => out.push(format!("{at}: {a} where the schema has {s}")),
    }
}

#[test]
fn every_json_output_matches_the_documented_schema() {
    let doc = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/cli-json.md"),
    )
    .expect("docs/cli-json.md");
    let d = tempfile::tempdir().expect("tmp");
    let p = d.path();
    keys(p, 2, 2);
    create(
        p,
        "v1.json",
        1,
        "set.json",
        &[root("Amazon_Root_CA_1.pem"), root("Amazon_Root_CA_3.pem")],
    );
    ok(p, &["bundle", "sign", "v1.json", "--key", "k1.pem"]);
    ok(p, &["bundle", "sign", "v1.json", "--key", "k2.pem"]);
    create(p, "v2.json", 2, "set.json", &[root("Amazon_Root_CA_3.pem")]);
    ok(p, &["bundle", "sign", "v2.json", "--key", "k1.pem"]);
    ok(
        p,
        &[
            "device",
            "apply",
            "v1.json",
            "--state",
            "state",
            "--fleet",
            FLEET,
            "--signers",
            "set.json",
            "--skip-health-check",
        ],
    );
    let store = [
        "--state",
        "state",
        "--fleet",
        FLEET,
        "--signers",
        "set.json",
    ];
    let cases: Vec<(&str, Vec<&str>)> = vec![
        ("inspect", vec!["inspect", "--json"]),
        ("inspect", vec!["inspect", "--bundle", "v1.json", "--json"]),
        (
            "check-expiry",
            vec!["check-expiry", "--within", "2y", "--json"],
        ),
        ("pubkey", vec!["pubkey", "k1.pub", "--json"]),
        (
            "bundle verify",
            [&["bundle", "verify", "v2.json", "--json"][..], &store[..]].concat(),
        ),
        (
            "bundle verify",
            [&["bundle", "verify", "v1.json", "--json"][..], &store[..]].concat(),
        ),
        (
            "bundle signatures",
            vec![
                "bundle",
                "signatures",
                "v2.json",
                "--signers",
                "set.json",
                "--json",
            ],
        ),
        (
            "bundle diff",
            vec!["bundle", "diff", "v1.json", "v2.json", "--json"],
        ),
        (
            "bundle diff",
            vec!["bundle", "diff", "--compiled-in", "v2.json", "--json"],
        ),
        (
            "device status",
            [&["device", "status", "--json"][..], &store[..]].concat(),
        ),
        (
            "device status",
            [&["status", "--json"][..], &store[..]].concat(),
        ),
    ];
    let mut problems = Vec::new();
    for (command, args) in &cases {
        let r = run(p, args);
        let actual: Value = serde_json::from_str(&r.stdout)
            .unwrap_or_else(|e| panic!("{args:?}: not JSON ({e}): {}{}", r.stdout, r.stderr));
        assert_eq!(actual["schema"], 1, "{args:?}");
        let mut out = Vec::new();
        shape(&example(&doc, command), &actual, "", &mut out);
        problems.extend(out.into_iter().map(|o| format!("{args:?}: {o}")));
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_shape_check_catches_a_renamed_member() {
    let schema: Value = serde_json::json!({ "a": 1, "b": [{ "c": "x" }] });
    let mut out = Vec::new();
    shape(
        &schema,
        &serde_json::json!({ "a": 2, "b": [{ "d": "x" }] }),
        "",
        &mut out,
    );
    assert_eq!(out, vec![".b[0].c: missing", ".b[0].d: not in the schema"]);
    let mut out = Vec::new();
    shape(
        &schema,
        &serde_json::json!({ "a": "2", "b": [] }),
        "",
        &mut out,
    );
    assert_eq!(out, vec![".a: \"2\" where the schema has 1"]);
}
