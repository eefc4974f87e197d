use super::*;

fn vars(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Every problem `text` (with no environment) is refused for; none when it parses.
fn problems_of(text: &str) -> Vec<String> {
    parse(text, &[])
        .err()
        .map(|e| e.problems)
        .unwrap_or_default()
}

fn parse(text: &str, env: &[(&str, &str)]) -> Result<Config, ConfigError> {
    Config::parse(text, vars(env), &Overrides::default())
}

#[test]
fn defaults_match_the_spec() {
    let config = Config::defaults().ok();
    let Some(config) = config else {
        unreachable!("defaults must validate")
    };
    assert_eq!(config.server.listen.to_string(), "127.0.0.1:8787");
    assert_eq!(config.server.data_dir, PathBuf::from("./tollgate-data"));
    assert_eq!(config.server.max_body_bytes, 32 * 1024 * 1024);
    assert_eq!(
        config.server.upstream_timeout,
        Duration::from_millis(600_000)
    );
    assert_eq!(
        config.server.upstream_net,
        UpstreamNet {
            connect_timeout: Duration::from_secs(10),
            dns_timeout: Duration::from_secs(5),
            dns_negative_ttl: Duration::from_secs(5),
        }
    );
    assert_eq!(
        config.storage,
        StorageConfig::Sqlite {
            path: PathBuf::from("./tollgate-data/tollgate.db")
        }
    );
    assert_eq!(config.cache.max_bytes, 256 * 1024 * 1024);
    assert!(config.redis_url.is_none());
}

#[test]
fn every_problem_is_reported_at_once() {
    let text = r#"
        [server]
        lisen = "x"
        max_body_bytes = 0
        dns_timeout_ms = 0
        trusted_proxies = ["10.0.0.0/8", "nope"]
        [providers.openai]
        base_url = "ftp://x"
        [providers.my-llm]
        [providers.unknown]
        base_url = "http://127.0.0.1:9"
        [cahce]
    "#;
    let problems = problems_of(text);
    let joined = problems.join("\n");
    for expected in [
        "unknown key `server.lisen`",
        "unknown key `cahce`",
        "server.max_body_bytes",
        "server.dns_timeout_ms: must be between 1 and 600000",
        "`nope` is not a CIDR",
        "providers.openai.base_url",
        "providers.my-llm: `my-llm` is not a built-in provider",
        "providers.unknown: `unknown` is reserved",
    ] {
        assert!(
            joined.contains(expected),
            "missing {expected:?} in:\n{joined}"
        );
    }
}

#[test]
fn environment_overrides_file_and_flags_override_both() {
    let text = "[server]\nlisten = \"127.0.0.1:1000\"\nmax_body_bytes = 10\n";
    let env = [
        ("TOLLGATE_SERVER__LISTEN", "127.0.0.1:2000"),
        ("TOLLGATE_SERVER__MAX_BODY_BYTES", "20"),
        (
            "TOLLGATE_PROVIDERS__OPENAI__BASE_URL",
            "http://127.0.0.1:9/v1",
        ),
        ("TOLLGATE_LOG", "debug"),
        ("OTHER", "x"),
    ];
    let config = parse(text, &env).ok();
    assert_eq!(config.as_ref().map(|c| c.server.listen.port()), Some(2000));
    assert_eq!(config.as_ref().map(|c| c.server.max_body_bytes), Some(20));
    assert_eq!(
        config
            .as_ref()
            .and_then(|c| c.providers.get("openai"))
            .and_then(|p| p.base_url.clone()),
        Some("http://127.0.0.1:9/v1".into())
    );
    let flags = Overrides {
        listen: Some("127.0.0.1:3000".into()),
        data_dir: Some("/tmp/x".into()),
    };
    let config = Config::parse(text, vars(&env), &flags).ok();
    assert_eq!(config.as_ref().map(|c| c.server.listen.port()), Some(3000));
    assert_eq!(
        config.map(|c| c.storage),
        Some(StorageConfig::Sqlite {
            path: PathBuf::from("/tmp/x/tollgate.db")
        })
    );
}

#[test]
fn unknown_environment_key_is_named() {
    let problems = parse("", &[("TOLLGATE_SERVER__LISTN", "x")])
        .err()
        .map(|e| e.problems);
    assert_eq!(
        problems,
        Some(vec![
            "TOLLGATE_SERVER__LISTN: unknown key `server.listn`".to_string()
        ])
    );
}

#[test]
fn wrong_types_and_failed_checks_are_reported_in_one_round() {
    let text = r#"
        [server]
        max_body_bytes = "big"
        listen = "nowhere"
        trusted_proxies = "10.0.0.0/8"
        [logs]
        fsync = 3
        spool_max_bytes = 5
        [limits]
        max_in_flight = 0
    "#;
    let problems = problems_of(text);
    let joined = problems.join("\n");
    for expected in [
        "server.max_body_bytes: invalid type: string \"big\"",
        "server.trusted_proxies: invalid type",
        "logs.fsync: invalid type: integer `3`",
        "server.listen: `nowhere` is not an address",
        "logs.spool_max_bytes: must be at least 1048576",
        "limits.max_in_flight",
    ] {
        assert!(
            joined.contains(expected),
            "missing {expected:?} in:\n{joined}"
        );
    }
    assert_eq!(problems.len(), 6, "{joined}");
}

#[test]
fn a_toml_syntax_error_gives_file_line_and_column() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| unreachable!("{e}"));
    let file = dir.path().join("tollgate.toml");
    std::fs::write(
        &file,
        "[server]\nlisten = \"127.0.0.1:1\"\nmax_body_bytes = = 3\n",
    )
    .unwrap_or_else(|e| unreachable!("{e}"));
    let problems = Config::load_from(Some(&file), vars(&[]), &Overrides::default())
        .err()
        .map(|e| e.problems)
        .unwrap_or_default();
    assert_eq!(problems.len(), 1, "{problems:?}");
    let prefix = format!("{}:3:18: not valid TOML: ", file.display());
    assert!(problems[0].starts_with(&prefix), "{problems:?}");
    let inline = parse("a = [1,\n", &[]).err().map(|e| e.problems);
    assert!(
        inline
            .as_ref()
            .is_some_and(|p| p[0].starts_with("line 1:8: not valid TOML")),
        "text without a file still gets its line: {inline:?}"
    );
}

#[test]
fn a_problem_from_the_environment_names_its_variable() {
    let problems = parse(
        "[server]\nmax_body_bytes = 0\n",
        &[
            ("TOLLGATE_SERVER__LISTEN", "garbage"),
            ("TOLLGATE_LOGS__FSYNC", "maybe"),
            ("TOLLGATE_PROVIDERS__OPENAI__BASE_URL", "ftp://x"),
        ],
    )
    .err()
    .map(|e| e.problems)
    .unwrap_or_default();
    let joined = problems.join("\n");
    for expected in [
        "TOLLGATE_SERVER__LISTEN: server.listen: `garbage` is not an address",
        "TOLLGATE_LOGS__FSYNC: logs.fsync: invalid type: string \"maybe\"",
        "TOLLGATE_PROVIDERS__OPENAI__BASE_URL: providers.openai.base_url:",
    ] {
        assert!(
            joined.contains(expected),
            "missing {expected:?} in:\n{joined}"
        );
    }
    assert!(
        problems
            .iter()
            .any(|p| p.starts_with("server.max_body_bytes")),
        "a problem of the file names no variable: {joined}"
    );
}

#[test]
fn log_format_and_access_log() {
    let defaults = Config::defaults().ok();
    assert_eq!(
        defaults.map(|c| (c.server.log_format, c.server.access_log)),
        Some((LogFormat::Text, false))
    );
    let set = parse("[server]\nlog_format = \"json\"\naccess_log = true\n", &[]).ok();
    assert_eq!(
        set.map(|c| (c.server.log_format, c.server.access_log)),
        Some((LogFormat::Json, true))
    );
    let problems = parse("[server]\nlog_format = \"xml\"\n", &[])
        .err()
        .map(|e| e.problems);
    assert_eq!(
        problems,
        Some(vec![
            "server.log_format: `xml` is not `text` or `json`".to_string()
        ])
    );
}

#[test]
fn custom_provider_and_storage_url() {
    let text = r#"
        [providers.my-llm]
        base_url = "http://127.0.0.1:8000/v1/"
        credential_header = "X-Key"
        [storage]
        url = "sqlite:///var/lib/tollgate/db.sqlite"
    "#;
    let config = parse(text, &[]).ok();
    let provider = config.as_ref().and_then(|c| c.providers.get("my-llm"));
    assert_eq!(
        provider.and_then(|p| p.base_url.as_deref()),
        Some("http://127.0.0.1:8000/v1")
    );
    assert_eq!(
        provider.and_then(|p| p.credential_header.as_deref()),
        Some("x-key")
    );
    assert_eq!(
        config.map(|c| c.storage),
        Some(StorageConfig::Sqlite {
            path: PathBuf::from("/var/lib/tollgate/db.sqlite")
        })
    );
    assert!(parse("[storage]\nurl = \"mysql://x\"", &[]).is_err());
}

#[test]
fn postgres_storage_url_is_accepted_and_its_password_never_printed() {
    let url = "postgres://tollgate:hunter2-secret@db.internal:5432/tollgate?sslmode=require";
    let config = parse(&format!("[storage]\nurl = \"{url}\""), &[]).ok();
    assert_eq!(
        config.as_ref().map(|c| c.storage.clone()),
        Some(StorageConfig::Postgres {
            url: Secret::new(url.into())
        })
    );
    assert!(!format!("{config:?}").contains("hunter2"));
    assert!(parse("[storage]\nurl = \"postgres://x/db?nonsense=1\"", &[]).is_err());
}

#[test]
fn admin_token_is_never_printed_by_debug() {
    let config = parse("[server]\nadmin_token = \"a-very-secret-admin-token\"", &[]).ok();
    let shown = format!("{config:?}");
    assert!(!shown.contains("a-very-secret"));
    assert!(parse("[server]\nadmin_token = \"short\"", &[]).is_err());
}

#[test]
fn example_configs_parse() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config/examples");
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
        let text = std::fs::read_to_string(entry.path()).unwrap_or_default();
        let result = parse(&text, &[]);
        assert!(
            result.is_ok(),
            "{}: {:?}",
            entry.path().display(),
            result.err()
        );
        seen += 1;
    }
    assert!(seen > 0, "no example configs in {}", dir.display());
}

#[test]
fn limits_have_defaults_and_reject_out_of_range_values() {
    let Ok(config) = Config::defaults() else {
        unreachable!("defaults must validate")
    };
    let limits = &config.limits;
    assert_eq!(limits.header_read_timeout, Duration::from_secs(10));
    assert_eq!(limits.body_idle_timeout, Duration::from_secs(30));
    assert_eq!(limits.max_uri_bytes, 8192);
    assert_eq!(limits.max_header_bytes, 32 * 1024);
    assert_eq!(limits.max_connections, 10_000);
    assert_eq!(limits.h2_keep_alive_interval, Some(Duration::from_secs(30)));
    assert_eq!(limits.metrics_max_label_sets, 1_000);

    let text = "[limits]\nheader_read_timeout_ms = 0\nmax_uri_bytes = 100000\nmax_in_flight = 0\nmetrics_max_label_sets = 0\n";
    let problems = problems_of(text);
    for key in [
        "header_read_timeout_ms",
        "max_uri_bytes",
        "max_in_flight",
        "metrics_max_label_sets",
    ] {
        assert!(
            problems
                .iter()
                .any(|p| p.starts_with(&format!("limits.{key}:"))),
            "{key}: {problems:?}"
        );
    }
    let no_pings = parse("[limits]\nh2_keep_alive_interval_ms = 0\n", &[]).ok();
    assert_eq!(
        no_pings.map(|c| c.limits.h2_keep_alive_interval),
        Some(None)
    );
    let from_env = parse("", &[("TOLLGATE_LIMITS__MAX_CONNECTIONS", "50")]).ok();
    assert_eq!(from_env.map(|c| c.limits.max_connections), Some(50));
}

#[test]
fn metrics_section_defaults_to_the_main_port_without_a_token() {
    let config = Config::defaults().ok();
    assert!(config.as_ref().is_some_and(|c| c.metrics.listen.is_none()));
    assert!(config.is_some_and(|c| c.metrics.token.is_none()));

    let text = "[metrics]\nlisten = \"127.0.0.1:9090\"\ntoken = \"scrape-token-0123456789\"\n";
    let config = parse(text, &[]).ok();
    let metrics = config.map(|c| c.metrics);
    assert_eq!(
        metrics.as_ref().and_then(|m| m.listen),
        Some(SocketAddr::from(([127, 0, 0, 1], 9090)))
    );
    let token = metrics.and_then(|m| m.token);
    assert_eq!(
        token.as_ref().map(Secret::expose),
        Some("scrape-token-0123456789")
    );
    assert!(!format!("{token:?}").contains("scrape-token"));

    let from_env = parse("", &[("TOLLGATE_METRICS__LISTEN", "127.0.0.1:9191")]).ok();
    assert_eq!(
        from_env.and_then(|c| c.metrics.listen).map(|a| a.port()),
        Some(9191)
    );
}

#[test]
fn metrics_section_rejects_bad_values_naming_the_key() {
    for (text, key) in [
        (
            "[metrics]\nlisten = \"not an address\"\n",
            "metrics.listen:",
        ),
        ("[metrics]\ntoken = \"short\"\n", "metrics.token:"),
        (
            "[server]\nlisten = \"127.0.0.1:8787\"\n[metrics]\nlisten = \"127.0.0.1:8787\"\n",
            "metrics.listen:",
        ),
        (
            "[metrics]\nlisen = \"127.0.0.1:9090\"\n",
            "unknown key `metrics.lisen`",
        ),
    ] {
        let problems = problems_of(text);
        assert!(
            problems.iter().any(|p| p.starts_with(key)),
            "{text}: {problems:?}"
        );
    }
}

#[test]
fn otel_section_is_validated_and_the_ratio_may_come_from_the_environment() {
    let config = parse(
        "[otel]\nendpoint = \"http://collector:4318/v1/traces\"\ncontent_type = \"protobuf\"\n\
         headers = { \"X-Key\" = \"k\" }\ntrace_url = \"http://jaeger/trace/{trace_id}\"\n",
        &[("TOLLGATE_OTEL__SAMPLE_RATIO", "0.25")],
    )
    .unwrap();
    let export = config.otel.export.unwrap();
    assert_eq!(export.content_type, crate::otel::ContentType::Protobuf);
    assert_eq!(export.headers.get("x-key").map(String::as_str), Some("k"));
    assert!((config.otel.sample_ratio - 0.25).abs() < f64::EPSILON);
    assert!(parse("", &[]).unwrap().otel.export.is_none());

    let problems = parse(
        "[otel]\nendpoint = \"collector:4318\"\ncontent_type = \"xml\"\nsample_ratio = 2\n\
         trace_url = \"http://jaeger/trace/\"\n",
        &[],
    )
    .err()
    .map(|e| e.problems)
    .unwrap_or_default();
    let joined = problems.join("\n");
    for key in [
        "otel.endpoint",
        "otel.content_type",
        "otel.sample_ratio",
        "otel.trace_url",
    ] {
        assert!(joined.contains(key), "{key} missing in {joined}");
    }
    let typo = parse("[otel]\nendpont = \"http://x/v1/traces\"\n", &[])
        .err()
        .map(|e| e.problems.join("\n"))
        .unwrap_or_default();
    assert!(typo.contains("otel.endpont"), "{typo}");
}

#[test]
fn mcp_servers_are_validated_and_kept_in_order() {
    let text = r#"
        [[mcp_servers]]
        gateway = "tools"
        name = "github"
        url = "https://mcp.example.com/mcp"
        headers = { authorization = "Bearer secret-value" }

        [[mcp_servers]]
        gateway = "tools"
        name = "search"
        url = "http://127.0.0.1:9000/mcp"
        timeout_ms = 5000
        cost_per_call = 0.002
    "#;
    let config = parse(text, &[]).ok();
    let Some(config) = config else {
        unreachable!("valid MCP servers")
    };
    let names: Vec<&str> = config.mcp_servers.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["github", "search"]);
    assert_eq!(config.mcp_servers[1].timeout, Duration::from_secs(5));
    assert_eq!(config.mcp_servers[1].cost_per_call, Some(0.002));
    assert_eq!(config.mcp_servers[0].cost_per_call, None);
    assert_eq!(
        config.mcp_servers[0].headers[0].1.expose(),
        "Bearer secret-value"
    );
    assert!(!format!("{config:?}").contains("secret-value"));

    let bad = r#"
        [[mcp_servers]]
        gateway = "Tools!"
        name = "a__b"
        url = "ftp://x"
        headers = { "bad header" = "secret-value" }
        timeout_ms = 0
        cost_per_call = -1

        [[mcp_servers]]
        gateway = "tools"
        name = "one"
        url = "http://a/mcp"

        [[mcp_servers]]
        gateway = "tools"
        name = "one"
        url = "http://b/mcp"
        sever = "typo"
    "#;
    let problems = problems_of(bad);
    let joined = problems.join("\n");
    for expected in [
        "mcp_servers[0].gateway",
        "mcp_servers[0].name",
        "mcp_servers[0].url",
        "mcp_servers[0].headers: `bad header`",
        "mcp_servers[0].timeout_ms",
        "mcp_servers[0].cost_per_call: must be 0 to 1000",
        "sever",
    ] {
        assert!(joined.contains(expected), "{expected} in:\n{joined}");
    }
    assert!(!joined.contains("secret-value"), "{joined}");
}

#[test]
fn a_duplicate_mcp_server_name_is_refused() {
    let text = r#"
        [[mcp_servers]]
        gateway = "tools"
        name = "one"
        url = "http://a/mcp"

        [[mcp_servers]]
        gateway = "tools"
        name = "one"
        url = "http://b/mcp"
    "#;
    let problems = problems_of(text);
    assert_eq!(
        problems,
        ["mcp_servers[1]: gateway `tools` already has a server named `one`"]
    );
}

#[test]
fn a_stdio_mcp_server_has_a_command_instead_of_a_url() {
    let text = r#"
        [[mcp_servers]]
        gateway = "tools"
        name = "local"
        command = "python3"
        args = ["server.py", "--quiet"]
        env = { LOCAL_TOKEN = "secret-value" }
    "#;
    let Some(config) = parse(text, &[]).ok() else {
        unreachable!("a valid stdio server")
    };
    let command = config.mcp_servers[0]
        .command
        .as_ref()
        .expect("a stdio server");
    assert_eq!(
        (command.program.as_str(), command.args.as_slice()),
        (
            "python3",
            ["server.py".to_owned(), "--quiet".to_owned()].as_slice()
        )
    );
    assert_eq!(command.env[0].1.expose(), "secret-value");
    assert!(!format!("{config:?}").contains("secret-value"));

    let bad = r#"
        [[mcp_servers]]
        gateway = "tools"
        name = "both"
        url = "http://a/mcp"
        command = "python3"

        [[mcp_servers]]
        gateway = "tools"
        name = "neither"

        [[mcp_servers]]
        gateway = "tools"
        name = "headers"
        command = "python3"
        headers = { authorization = "Bearer x" }

        [[mcp_servers]]
        gateway = "tools"
        name = "args"
        url = "http://a/mcp"
        args = ["x"]
    "#;
    let problems = problems_of(bad);
    let joined = problems.join("\n");
    for expected in [
        "mcp_servers[0]: give either `url`",
        "mcp_servers[1]: give either `url`",
        "mcp_servers[2].headers: a stdio server",
        "mcp_servers[3]: `args` and `env` are for a stdio server",
    ] {
        assert!(joined.contains(expected), "{expected} in:\n{joined}");
    }
}

#[test]
fn the_mcp_section_keeps_the_endpoint_stateless_unless_sessions_are_turned_on() {
    let defaults = parse("", &[]).unwrap().mcp;
    assert!(!defaults.sessions);
    assert_eq!(defaults.max_sessions, 1_000);
    assert_eq!(defaults.session_idle_timeout, Duration::from_secs(30 * 60));

    let config = parse(
        "[mcp]\nsessions = true\nsession_idle_timeout_ms = 60000\n",
        &[("TOLLGATE_MCP__MAX_SESSIONS", "50")],
    )
    .unwrap();
    assert!(config.mcp.sessions);
    assert_eq!(config.mcp.max_sessions, 50);
    assert_eq!(config.mcp.session_idle_timeout, Duration::from_secs(60));

    let joined =
        problems_of("[mcp]\nmax_sessions = 0\nsession_idle_timeout_ms = 10\nsesions = true\n")
            .join("\n");
    for expected in [
        "mcp.max_sessions: must be between 1 and 1000000",
        "mcp.session_idle_timeout_ms: must be between 1000 and 86400000",
        "unknown key `mcp.sesions`",
    ] {
        assert!(joined.contains(expected), "{expected} in:\n{joined}");
    }
}
