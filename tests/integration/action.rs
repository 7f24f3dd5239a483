//! The GitHub Action's scripts, run locally with a fake runner environment and a locally
//! packed release archive.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::{Run, finish, repo};

const VERSION: &str = env!("CARGO_PKG_VERSION");

struct Runner {
    dir: tempfile::TempDir,
}

impl Runner {
    /// A copy of the action, a release mirror holding a packed archive of the evalgate under
    /// test, and the action's checksums file pinning that archive (or `sum` instead).
    fn new(sum: Option<&str>) -> Runner {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let action = root.join("action-src");
        std::fs::create_dir_all(action.join("action")).unwrap();
        std::fs::copy(repo("action.yml"), action.join("action.yml")).unwrap();
        for f in ["install.sh", "run.sh", "checksums.txt"] {
            std::fs::copy(repo(&format!("action/{f}")), action.join("action").join(f)).unwrap();
        }
        let mirror = root.join("releases").join(format!("v{VERSION}"));
        let out = Command::new("bash")
            .arg(repo("scripts/package.sh"))
            .args([
                "--binary",
                env!("CARGO_BIN_EXE_evalgate"),
                "--target",
                "x86_64-unknown-linux-musl",
                "--out",
            ])
            .arg(&mirror)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let sums = std::fs::read_to_string(mirror.join("SHA256SUMS")).unwrap();
        let line = match sum {
            Some(fake) => format!("{fake}  evalgate-{VERSION}-x86_64-unknown-linux-musl.tar.gz\n"),
            None => sums,
        };
        let pinned = action.join("action/checksums.txt");
        let mut text = std::fs::read_to_string(&pinned).unwrap();
        text.push_str(&line);
        std::fs::write(pinned, text).unwrap();
        std::fs::create_dir_all(root.join("temp")).unwrap();
        Runner { dir }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn script(&self, name: &str) -> Command {
        let mut c = Command::new("bash");
        c.arg(self.path("action-src/action").join(name))
            .current_dir(repo(""))
            .env("RUNNER_OS", "Linux")
            .env("RUNNER_ARCH", "X64")
            .env("RUNNER_TEMP", self.path("temp"))
            .env("RUNNER_TOOL_CACHE", self.path("cache"))
            .env("GITHUB_PATH", self.path("github_path"))
            .env("GITHUB_OUTPUT", self.path("github_output"))
            .env("GITHUB_STEP_SUMMARY", self.path("summary.md"))
            .env("GITHUB_ACTION_PATH", self.path("action-src"))
            .env("EVALGATE_DOWNLOAD_BASE", self.path("releases"))
            .env("INPUT_VERSION", VERSION)
            .env("NO_COLOR", "1")
            .env_remove("GITHUB_EVENT_NAME")
            .env_remove("ROBOFLOW_API_KEY");
        c
    }

    fn install(&self) -> Run {
        finish(&mut self.script("install.sh"))
    }

    fn bin_dirs(&self) -> Vec<String> {
        std::fs::read_to_string(self.path("github_path"))
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .collect()
    }

    /// run.sh with the installed evalgate first on PATH.
    fn run(&self, inputs: &[(&str, &str)]) -> Run {
        let dirs = self.bin_dirs();
        let path = format!("{}:{}", dirs.join(":"), std::env::var("PATH").unwrap());
        let mut c = self.script("run.sh");
        c.env("PATH", path).env("INPUT_COMMENT", "false");
        for (k, v) in inputs {
            c.env(k, v);
        }
        finish(&mut c)
    }
}

#[test]
fn installs_the_pinned_archive_and_caches_it() {
    let runner = Runner::new(None);
    let r = runner.install();
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let dirs = runner.bin_dirs();
    assert_eq!(dirs.len(), 1);
    let installed = Path::new(&dirs[0]).join("evalgate");
    let out = Command::new(&installed).arg("--version").output().unwrap();
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        format!("evalgate {VERSION}\n")
    );

    // The second run finds it in the tool cache and downloads nothing.
    std::fs::remove_dir_all(runner.path("releases")).unwrap();
    let r = runner.install();
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("from the tool cache"), "{}", r.stdout);
}

#[test]
fn a_checksum_mismatch_refuses_the_archive() {
    let runner = Runner::new(Some(&"0".repeat(64)));
    let r = runner.install();
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stdout
            .starts_with("::error title=evalgate install::checksum mismatch for evalgate-"),
        "{}",
        r.stdout
    );
    assert!(runner.bin_dirs().is_empty(), "nothing was put on PATH");
    assert!(
        !runner
            .path("cache")
            .join("evalgate")
            .join(VERSION)
            .join("x86_64-unknown-linux-musl")
            .join("evalgate")
            .exists()
    );
}

#[test]
fn an_unknown_runner_or_a_bad_version_is_refused() {
    let runner = Runner::new(None);
    let r = finish(
        runner
            .script("install.sh")
            .env("INPUT_VERSION", "latest; rm -rf /"),
    );
    assert_eq!(r.code, 1);
    assert!(
        r.stdout.contains("must be a release version"),
        "{}",
        r.stdout
    );
    // No pinned archive for this runner: the source build needs cargo, which this PATH lacks.
    let r = finish(
        runner
            .script("install.sh")
            .env("RUNNER_ARCH", "ARM")
            .env("PATH", "/usr/bin:/bin"),
    );
    assert_eq!(r.code, 1, "{}", r.stdout);
    assert!(
        r.stdout.contains("building it from the action's source"),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("needs a Rust toolchain"), "{}", r.stdout);
}

#[test]
fn the_run_step_fails_on_regressions_and_always_on_errors() {
    let runner = Runner::new(None);
    assert_eq!(runner.install().code, 0);
    let inputs = |fail: &'static str| {
        vec![
            ("INPUT_POLICY", "policies/detection.yaml"),
            ("INPUT_BASELINE", "examples/evals/baseline.json"),
            ("INPUT_CANDIDATE", "examples/evals/candidate.json"),
            ("INPUT_FAIL_ON_REGRESSION", fail),
        ]
    };
    let r = runner.run(&inputs("true"));
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stdout
            .contains("::error file=policies/detection.yaml,line=24,"),
        "{}",
        r.stdout
    );
    let outputs = std::fs::read_to_string(runner.path("github_output")).unwrap();
    assert!(
        outputs.contains("\nfail\n") && outputs.contains("\n1\n"),
        "{outputs}"
    );
    let reports = runner.path("temp/evalgate-reports");
    assert!(
        outputs.contains(&reports.join("evalgate.xml").display().to_string()),
        "{outputs}"
    );
    assert!(
        std::fs::read_to_string(runner.path("summary.md"))
            .unwrap()
            .starts_with("## ❌ evalgate: failed")
    );

    let r = runner.run(&inputs("false"));
    assert_eq!(
        r.code, 0,
        "a regression passes the step when asked: {}",
        r.stderr
    );

    let mut broken = inputs("false");
    broken[0] = ("INPUT_POLICY", "no/such/policy.yaml");
    let r = runner.run(&broken);
    assert_eq!(r.code, 3, "a broken setup never passes: {}", r.stderr);
    assert!(
        std::fs::read_to_string(runner.path("github_output"))
            .unwrap()
            .ends_with("exit-code=3\n")
    );

    let r = runner.run(&inputs("maybe"));
    assert_eq!(r.code, 2);
    assert!(
        r.stdout
            .contains("fail-on-regression must be true or false"),
        "{}",
        r.stdout
    );
}
