//! How the plugin prints what it read: tables (`gastown_operator::town_view::render`),
//! or JSON or YAML.

use serde::Serialize;

use super::args::Output;

/// `value` as JSON or YAML.
pub fn document<T: Serialize>(value: &T, output: Output) -> anyhow::Result<String> {
    Ok(match output {
        Output::Yaml => serde_yaml::to_string(value)?,
        Output::Json | Output::Table => {
            let mut text = serde_json::to_string_pretty(value)?;
            text.push('\n');
            text
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use gastown_operator::town_view::{AgentView, RigView, TownView};

    #[test]
    fn documents_are_json_or_yaml_of_the_same_model() {
        let view = TownView {
            name: "prod".into(),
            drained: Some("2026-12-05T10:00:00Z by ann".into()),
            rigs: vec![RigView {
                name: "gastown".into(),
                agents: vec![AgentView {
                    name: "gastown/polecats/nux".into(),
                    hook: Some("gastown-task-0".into()),
                    ..AgentView::default()
                }],
                ..RigView::default()
            }],
            ..TownView::default()
        };
        let json: serde_json::Value =
            serde_json::from_str(&document(&view, Output::Json).unwrap()).unwrap();
        assert_eq!(json["drained"], "2026-12-05T10:00:00Z by ann");
        assert_eq!(json["rigs"][0]["agents"][0]["hook"], "gastown-task-0");
        let yaml: serde_json::Value =
            serde_yaml::from_str(&document(&view, Output::Yaml).unwrap()).unwrap();
        assert_eq!(yaml, json);
    }
}
