//! Environment overrides: `TOLLGATE_SERVER__LISTEN=…` sets `server.listen` (docs/configuration.md).
//!
//! Only variables with a `__` separator are configuration; others (`TOLLGATE_LOG`) are left alone.

const PREFIX: &str = "TOLLGATE_";

/// The configuration keys set from the environment (`server.listen`) and their variables.
pub(super) type FromEnv = Vec<(String, String)>;

/// Writes each matching variable into the TOML document; returns problems with variable names
/// and the keys set.
pub(super) fn apply(
    document: &mut toml::Table,
    vars: impl IntoIterator<Item = (String, String)>,
) -> (Vec<String>, FromEnv) {
    let mut problems = Vec::new();
    let mut from_env = Vec::new();
    let mut vars: Vec<_> = vars
        .into_iter()
        .filter(|(name, _)| name.starts_with(PREFIX) && name.contains("__"))
        .collect();
    // Deterministic order, so the same environment always gives the same result.
    vars.sort();
    for (name, value) in vars {
        let path: Vec<String> = name[PREFIX.len()..]
            .split("__")
            .map(|part| part.to_ascii_lowercase())
            .collect();
        if path.iter().any(String::is_empty) {
            problems.push(format!("environment variable {name}: empty key segment"));
            continue;
        }
        match set(document, &path, parse_value(&value)) {
            Ok(()) => from_env.push((path.join("."), name)),
            Err(why) => problems.push(format!("environment variable {name}: {why}")),
        }
    }
    (problems, from_env)
}

/// Each problem about a key set from the environment, prefixed with the variable's name:
/// `TOLLGATE_SERVER__LISTEN: server.listen: …`. Problems name their key first (`key: why`)
/// or quote it (unknown key `key`).
pub(super) fn name_variables(problems: Vec<String>, from_env: &FromEnv) -> Vec<String> {
    problems
        .into_iter()
        .map(|problem| {
            let variable = from_env
                .iter()
                .filter(|(key, _)| {
                    problem.starts_with(&format!("{key}:"))
                        || problem.starts_with(&format!("{key}."))
                        || problem.contains(&format!("`{key}`"))
                })
                .max_by_key(|(key, _)| key.len());
            match variable {
                Some((_, name)) => format!("{name}: {problem}"),
                None => problem,
            }
        })
        .collect()
}

/// Numbers, booleans and arrays are read as TOML literals; anything else is a string.
fn parse_value(raw: &str) -> toml::Value {
    let looks_literal = raw == "true"
        || raw == "false"
        || raw.starts_with('[')
        || (!raw.is_empty() && raw.bytes().all(|b| b.is_ascii_digit()));
    if looks_literal
        && let Ok(mut table) = toml::from_str::<toml::Table>(&format!("v = {raw}"))
        && let Some(value) = table.remove("v")
    {
        return value;
    }
    toml::Value::String(raw.to_owned())
}

fn set(table: &mut toml::Table, path: &[String], value: toml::Value) -> Result<(), String> {
    let Some((last, parents)) = path.split_last() else {
        return Err("no key".into());
    };
    let mut current = table;
    for key in parents {
        let entry = current
            .entry(key.clone())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        current = match entry {
            toml::Value::Table(inner) => inner,
            _ => return Err(format!("`{key}` is not a section")),
        };
    }
    current.insert(last.clone(), value);
    Ok(())
}
