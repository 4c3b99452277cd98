//! docs/threat-model.md names the test behind every claim: those tests and catalogue cases
//! must exist, so the document cannot point at something deleted or renamed.

use std::path::{Path, PathBuf};

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).expect("dir") {
        let p = e.expect("entry").path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

#[test]
fn every_test_and_case_the_threat_model_cites_exists() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let doc = std::fs::read_to_string(root.join("docs/threat-model.md")).expect("doc");
    let mut sources = String::new();
    let mut files = Vec::new();
    for d in ["tests", "src", "tools"] {
        rust_files(&root.join(d), &mut files);
    }
    for f in files {
        sources.push_str(&std::fs::read_to_string(f).expect("read"));
    }
    let cited: Vec<&str> = doc.split('`').skip(1).step_by(2).collect();
    let mut checked = 0;
    let mut missing = Vec::new();
    // API names mentioned in prose, not citations of tests.
    let prose = ["verify_strict"];
    for name in cited.into_iter().filter(|n| !prose.contains(n)) {
        let is_fn = name.len() > 12
            && name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
            && name.contains('_');
        let is_case = name.contains('-')
            && name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            && !name.starts_with('-');
        if is_fn {
            checked += 1;
            if !sources.contains(&format!("fn {name}(")) {
                missing.push(name.to_owned());
            }
        } else if is_case {
            checked += 1;
            if !root
                .join("tests/attacks/cases")
                .join(name)
                .join("case.json")
                .exists()
            {
                missing.push(format!("case {name}"));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "docs/threat-model.md cites what does not exist: {missing:?}"
    );
    assert!(checked >= 50, "only {checked} citations found");
}
