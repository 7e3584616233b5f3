//! Tests live in the `[[test]]` targets; this is what they share.

/// Which driver runs a scenario (see [`with_each_driver!`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Driver {
    /// `stowage-tokio`.
    Tokio,
    /// `stowage-uring`.
    Uring,
}

/// Runs each scenario `async fn name(driver: Driver)` once per driver, as `name::tokio` and
/// `name::uring`: both drivers are held to one list.
#[macro_export]
macro_rules! with_each_driver {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn tokio() {
                super::$name($crate::Driver::Tokio).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn uring() {
                super::$name($crate::Driver::Uring).await;
            }
        }
    )*};
}

/// A reference SDK the conformance tests run: the module it is imported as and the pip
/// requirement that installs it.
#[derive(Clone, Copy, Debug)]
pub struct Sdk {
    /// `import` name.
    pub module: &'static str,
    /// What `pip install` takes.
    pub requirement: &'static str,
}

/// The AIStore Python SDK.
pub const AISTORE: Sdk = Sdk { module: "aistore", requirement: "aistore==2.0.0" };
/// The Arvados Python SDK.
pub const ARVADOS: Sdk = Sdk { module: "arvados", requirement: "arvados-python-client==3.2.1" };

/// The Python that runs a conformance test: `$STOWAGE_PYTHON` if set (`.ci/run` makes a venv
/// with every SDK), else `python3` if it can import `sdk`. `None` after printing how to run the
/// test (`test` names its target).
pub fn sdk_python(sdk: Sdk, test: &str) -> Option<String> {
    if let Ok(python) = std::env::var("STOWAGE_PYTHON") {
        return Some(python);
    }
    let import = std::process::Command::new("python3").args(["-c", &format!("import {}", sdk.module)]).output();
    if import.is_ok_and(|o| o.status.success()) {
        return Some("python3".to_owned());
    }
    eprintln!(
        "SKIPPED: no Python with {}. Run: python3 -m venv /tmp/sdk && /tmp/sdk/bin/pip install {} && \
         STOWAGE_PYTHON=/tmp/sdk/bin/python cargo test -p stowage-tests --test {test}",
        sdk.module, sdk.requirement
    );
    None
}
