//! A town as people read it: a tree town → rigs → agents with its
//! conditions, or agents as a flat table (`kubectl gastown`, the playground).

use super::{AgentView, TownView};
use crate::text_table::Table;

fn or_dash(value: Option<&str>) -> String {
    match value {
        Some(value) if !value.is_empty() => value.to_string(),
        _ => "-".to_string(),
    }
}

/// The towns as `status` prints them: each a tree, then its conditions.
pub fn status_tables(towns: &[TownView]) -> String {
    towns.iter().map(town_tree).collect::<Vec<_>>().join("\n")
}

/// The town's STATE cell: whether new polecats start (the Draining
/// condition below says since when and why).
fn town_state(town: &TownView) -> String {
    if town.deleting {
        "deleting"
    } else if town.drained.is_some() {
        "drained"
    } else {
        "-"
    }
    .to_string()
}

fn agent_row(table: &mut Table, prefix: &str, agent: &AgentView) {
    table.row([
        format!("{prefix}{}", agent.name),
        agent.role.clone(),
        or_dash(agent.phase.as_deref()),
        or_dash(agent.state.as_deref()),
        or_dash(agent.hook.as_deref()),
        or_dash(agent.pod.as_deref()),
    ]);
}

/// One town: the tree town → rigs → agents, then its conditions.
pub fn town_tree(town: &TownView) -> String {
    let mut tree = Table::new(["NAME", "ROLE", "PHASE", "STATE", "HOOK", "POD"]);
    tree.row([
        town.name.clone(),
        "town".to_string(),
        or_dash(town.phase.as_deref()),
        town_state(town),
        "-".to_string(),
        "-".to_string(),
    ]);
    // The town's children: its own agents, then its rigs, each rig's agents below it.
    let children = town.agents.len() + town.rigs.len();
    let branch = |n: usize| {
        if n + 1 == children {
            ("└─ ", "   ")
        } else {
            ("├─ ", "│  ")
        }
    };
    for (n, agent) in town.agents.iter().enumerate() {
        agent_row(&mut tree, branch(n).0, agent);
    }
    for (n, rig) in town.rigs.iter().enumerate() {
        let (here, below) = branch(town.agents.len() + n);
        tree.row([
            format!("{here}{}", rig.name),
            "rig".to_string(),
            or_dash(rig.phase.as_deref()),
            if rig.draining { "draining" } else { "-" }.to_string(),
            "-".to_string(),
            "-".to_string(),
        ]);
        for (m, agent) in rig.agents.iter().enumerate() {
            let twig = if m + 1 == rig.agents.len() {
                "└─ "
            } else {
                "├─ "
            };
            agent_row(&mut tree, &format!("{below}{twig}"), agent);
        }
    }
    let mut out = tree.render();
    if !town.conditions.is_empty() {
        let mut conditions = Table::new(["CONDITION", "STATUS", "REASON", "MESSAGE"]);
        for c in &town.conditions {
            conditions.row([
                c.type_.clone(),
                c.status.clone(),
                or_dash(Some(&c.reason)),
                or_dash(Some(&c.message)),
            ]);
        }
        out.push('\n');
        out.push_str(&conditions.render());
    }
    out
}

/// Agents one per line, for scripts: every cell is one word (`-` when empty).
pub fn agents_table<'a>(agents: impl IntoIterator<Item = &'a AgentView>) -> String {
    let mut table = Table::new([
        "NAME", "TOWN", "RIG", "ROLE", "PHASE", "STATE", "HOOK", "POD",
    ]);
    for agent in agents {
        table.row([
            agent.name.clone(),
            agent.town.clone(),
            or_dash(agent.rig.as_deref()),
            agent.role.clone(),
            or_dash(agent.phase.as_deref()),
            or_dash(agent.state.as_deref()),
            or_dash(agent.hook.as_deref()),
            or_dash(agent.pod.as_deref()),
        ]);
    }
    table.render()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::town_view::tests::view;

    #[test]
    fn status_draws_the_town_as_a_tree_then_its_conditions() {
        let text = town_tree(&view(false));
        let expected = "\
NAME                           ROLE      PHASE    STATE     HOOK            POD
prod                           town      Running  -         -               -
├─ mayor                       mayor     Running  working   hq-convoy-1     gt-prod-mayor
├─ deacon                      deacon    Running  idle      -               gt-prod-deacon
└─ gastown                     rig       Running  -         -               -
   ├─ gastown/witness          witness   Running  working   gastown-patrol  gt-gastown-witness
   ├─ gastown/refinery         refinery  Pending  -         -               gt-gastown-refinery
   ├─ gastown/crew/max         crew      Running  working   gastown-task-7  gt-gastown-crew-max
   ├─ gastown/polecats/nux     polecat   Running  working   gastown-task-0  gt-gastown-polecat-nux
   └─ gastown/polecats/rictus  polecat   -        spawning  -               -

CONDITION  STATUS  REASON    MESSAGE
Ready      True    AllReady  the town runs as declared
";
        assert_eq!(text, expected, "\n{text}");
    }

    #[test]
    fn a_drained_town_and_its_rigs_say_so() {
        let text = town_tree(&view(true));
        let mut lines = text.lines().skip(1);
        let town: Vec<&str> = lines.next().unwrap().split_whitespace().collect();
        assert_eq!(town, ["prod", "town", "Running", "drained", "-", "-"]);
        assert!(
            text.contains("└─ gastown                     rig       Running  draining  "),
            "{text}"
        );
    }

    #[test]
    fn agents_are_one_line_each_with_a_word_per_cell() {
        let view = view(false);
        let text = agents_table(view.all_agents());
        let lines: Vec<Vec<&str>> = text
            .lines()
            .map(|l| l.split_whitespace().collect())
            .collect();
        assert_eq!(
            lines[0],
            [
                "NAME", "TOWN", "RIG", "ROLE", "PHASE", "STATE", "HOOK", "POD"
            ]
        );
        assert_eq!(lines.len(), 1 + 7);
        assert!(lines.iter().all(|cells| cells.len() == 8), "{text}");
        assert_eq!(
            lines[6],
            [
                "gastown/polecats/nux",
                "prod",
                "gastown",
                "polecat",
                "Running",
                "working",
                "gastown-task-0",
                "gt-gastown-polecat-nux"
            ]
        );
        assert_eq!(lines[1][..3], ["mayor", "prod", "-"]);
    }
}
