//! The Gas Town agent image (`…/gastown-agent`): `/entrypoint.sh` (G4),
//! which sets up git and the town workspace, then runs Claude under coop.

use super::container::{Container, Denied, Image};
use super::{Verdict, crash};

/// G5 (`.rwx/docker.yml`): user 1000 with home `/home/agent`, workdir
/// `/home/agent/gt`, `chown -R 1000:1000 /home/agent`.
const IMAGE: Image = Image {
    user: 1000,
    home: "/home/agent",
    dirs: &["/home/agent", "/home/agent/gt"],
    owned: &[("/home/agent", 1000)],
};

/// G1/G4: the town root the entrypoint writes its markers into.
const WORKSPACE: &str = "/home/agent/gt";

pub(super) fn verdict(container: &Container) -> Verdict {
    if container.command().is_some() {
        // The entrypoint is bypassed (e.g. a `git-clone` init container
        // running a shell): its rules do not apply.
        return Verdict::Runs;
    }
    let uid = container.uid(&IMAGE);

    // G4: under `set -euo pipefail` the first thing written is
    // `git config --global`, i.e. `$HOME/.gitconfig`. The home belongs to
    // uid 1000 (G1/G5), so any other non-root uid stops here.
    let home = container.home(&IMAGE).trim_end_matches('/');
    let home_error = if container.exists(&IMAGE, home) {
        container.writable(&IMAGE, home).err().map(Denied::libc)
    } else {
        Some("No such file or directory")
    };
    if let Some(why) = home_error {
        // git config.c: error_errno("could not lock config file %s").
        // unconfirmed: the exit status (git returns CONFIG_NO_LOCK, -1,
        // which the shell sees as 255).
        return crash(
            255,
            format!("error: could not lock config file {home}/.gitconfig: {why}"),
        );
    }

    // G4: `cd /home/agent/gt && git init -q` on a fresh workspace, then the
    // town markers (`mayor/town.json`, …). The image's directory is uid
    // 1000's, so this fails only on a read-only volume or root filesystem,
    // or for another uid on the image's directory or a root-owned volume.
    if let Err(denied) = container.writable(&IMAGE, WORKSPACE) {
        // unconfirmed: git init-db.c `safe_create_dir` reports with
        // perror(<git dir>) and exit(1).
        return crash(1, format!("{WORKSPACE}/.git: {}", denied.libc()));
    }

    if uid == 0 {
        // G4 runs `claude --dangerously-skip-permissions` under coop and
        // restarts it up to COOP_MAX_RESTARTS (10) times, then exits 1
        // ("Max restarts (%s) reached, exiting", deploy/agent/entrypoint.sh).
        // unconfirmed: Claude Code's refusal to skip permissions as root.
        let restarts = container.env_literal("COOP_MAX_RESTARTS").unwrap_or("10");
        return crash(
            1,
            format!(
                "--dangerously-skip-permissions cannot be used with root/sudo privileges for security reasons\n\
                 [entrypoint] Max restarts ({restarts}) reached, exiting"
            ),
        );
    }
    Verdict::Runs
}
