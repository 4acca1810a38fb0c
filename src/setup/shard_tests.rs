use super::*;

fn add(text: &str, wanted: &[Shard]) -> Option<String> {
    add_dependencies(Path::new("shard.yml"), text, wanted).expect("the test input")
}

#[test]
fn appends_to_an_existing_section_keeping_comments() {
    let text = "name: app # the app\nversion: 0.1.0\n\n# deps\ndependencies:\n  azu: # web\n    github: azutoolkit/azu\n\n# tools\ndevelopment_dependencies:\n  ameba:\n    github: crystal-ameba/ameba\n";
    let out = add(text, &[SESSION, REDIS]).expect("the test input");
    assert_eq!(
        out,
        "name: app # the app\nversion: 0.1.0\n\n# deps\ndependencies:\n  azu: # web\n    github: azutoolkit/azu\n  session:\n    github: azutoolkit/session\n  redis:\n    github: stefanwille/crystal-redis\n\n# tools\ndevelopment_dependencies:\n  ameba:\n    github: crystal-ameba/ameba\n"
    );
}

#[test]
fn adds_a_missing_section() {
    let out = add("name: app\nversion: 0.1.0", &[SESSION]).expect("the test input");
    assert_eq!(
        out,
        "name: app\nversion: 0.1.0\n\ndependencies:\n  session:\n    github: azutoolkit/session\n"
    );
}

#[test]
fn follows_the_files_indent() {
    let text = "name: app\ndependencies:\n    azu:\n        github: azutoolkit/azu\n";
    let out = add(text, &[SESSION]).expect("the test input");
    assert!(
        out.ends_with("    session:\n        github: azutoolkit/session\n"),
        "{out}"
    );
}

#[test]
fn fills_an_empty_section() {
    for header in [
        "dependencies:",
        "dependencies: {}",
        "dependencies: ~ # none yet",
    ] {
        let text = format!("name: app\n{header}\nlicense: MIT\n");
        let out = add(&text, &[SESSION]).expect("the test input");
        let doc = parse_shard(Path::new("x"), &out).expect("the test input");
        assert_eq!(
            doc["dependencies"]["session"]["github"].as_str(),
            Some("azutoolkit/session"),
            "{out}"
        );
        assert_eq!(doc["license"].as_str(), Some("MIT"));
    }
}

#[test]
fn never_duplicates_in_any_spelling() {
    for text in [
        "name: a\ndependencies:\n  redis:\n    github: stefanwille/crystal-redis\n",
        "name: a\ndependencies:\n  Redis:\n    github: someone/else\n",
        "name: a\ndependencies:\n  crystal-redis:\n    github: stefanwille/crystal-redis\n    version: ~> 2.9\n",
        "name: a\ndependencies:\n  my_redis:\n    git: https://github.com/StefanWille/crystal-redis.git\n",
    ] {
        assert_eq!(add(text, &[REDIS]), None, "{text}");
    }
}

#[test]
fn keeps_crlf_line_endings() {
    let out = add(
        "name: app\r\ndependencies:\r\n  azu:\r\n    github: azutoolkit/azu\r\n",
        &[SESSION],
    )
    .expect("the test input");
    assert!(
        out.ends_with("  session:\r\n    github: azutoolkit/session\r\n"),
        "{out:?}"
    );
}

#[test]
fn refuses_what_it_cannot_edit_safely() {
    let inline = "name: a\ndependencies: { azu: { github: azutoolkit/azu } }\n";
    assert!(matches!(
        add_dependencies(Path::new("s"), inline, &[SESSION]),
        Err(Error::ShardYmlEdit { .. })
    ));
    let list = "name: a\ndependencies:\n  - azu\n";
    assert!(matches!(
        add_dependencies(Path::new("s"), list, &[SESSION]),
        Err(Error::ShardYmlDependenciesNotMapping(_))
    ));
}

#[test]
fn accepts_what_crystals_yaml_accepts() {
    // A byte-order mark stays first.
    let out = add(
        "\u{feff}name: app\ndependencies:\n  azu:\n    github: a/azu\n",
        &[SESSION],
    )
    .expect("the test input");
    assert!(
        out.starts_with("\u{feff}name: app\ndependencies:\n  azu:\n"),
        "{out:?}"
    );
    assert!(
        out.ends_with("  session:\n    github: azutoolkit/session\n"),
        "{out:?}"
    );
    // A tab after `name:`.
    let out = add("name:\tapp\n", &[SESSION]).expect("the test input");
    assert!(out.starts_with("name:\tapp\n\ndependencies:\n"), "{out:?}");
    // A description with a line that starts with "dependencies".
    let text = "name: app\ndescription: |\n  dependencies: none to speak of\n";
    let out = add(text, &[SESSION]).expect("the test input");
    assert_eq!(
        out,
        format!("{text}\ndependencies:\n  session:\n    github: azutoolkit/session\n")
    );
    // An anchored section, alone and as an empty mapping.
    let text = "name: app\ndependencies: &deps # shared\n  azu:\n    github: a/azu\n";
    let out = add(text, &[SESSION]).expect("the test input");
    assert_eq!(
        out,
        format!("{text}  session:\n    github: azutoolkit/session\n")
    );
    let out = add("name: app\ndependencies: &deps {}\n", &[SESSION]).expect("the test input");
    assert_eq!(
        out,
        "name: app\ndependencies: &deps\n  session:\n    github: azutoolkit/session\n"
    );
}

#[test]
fn refuses_with_the_true_reason() {
    let reason = |text: &str| match add_dependencies(Path::new("s"), text, &[SESSION]) {
        Err(Error::ShardYmlEdit { reason, .. }) => reason,
        other => panic!("{other:?}"),
    };
    // A key that aliases the section would change with it.
    let r = reason(
        "name: a\ndependencies: &deps\n  azu:\n    github: a/azu\ndevelopment_dependencies: *deps\n",
    );
    assert!(r.contains("alias"), "{r}");
    let r = reason("name: a\n\"dependencies\":\n  azu:\n    github: a/azu\n");
    assert!(r.contains("not written plainly"), "{r}");
}

#[test]
fn driver_follows_database_url() {
    assert_eq!(driver_for(None), PG);
    assert_eq!(driver_for(Some("postgres://x/y")), PG);
    assert_eq!(driver_for(Some("MySQL://x/y")), MYSQL);
    assert_eq!(driver_for(Some("mariadb://x/y")), MYSQL);
    assert_eq!(driver_for(Some("sqlite3:./db.sqlite")), SQLITE3);
    assert_eq!(driver_for(Some("sqlite://db.sqlite")), SQLITE3);
}

#[test]
fn the_driver_follows_the_scheme_and_says_why() {
    let scheme = |s: &str| DriverReason::Scheme(s.to_string());
    let cases = [
        (None, PG, DriverReason::NoUrl),
        (Some("postgres://u:p@h/db"), PG, scheme("postgres")),
        (Some("PostgreSQL://h/db"), PG, scheme("postgresql")),
        (Some("mysql://root@h/db"), MYSQL, scheme("mysql")),
        (Some("mariadb://h/db"), MYSQL, scheme("mariadb")),
        (Some("sqlite3:./db.sqlite3"), SQLITE3, scheme("sqlite3")),
        (Some("sqlite://db.sqlite"), SQLITE3, scheme("sqlite")),
        (Some("oracle://h/db"), PG, DriverReason::OtherScheme),
        (Some("admin:s3cret@h/db"), PG, DriverReason::OtherScheme),
        (Some("nothing"), PG, DriverReason::OtherScheme),
    ];
    for (url, driver, reason) in cases {
        assert_eq!(driver_choice(url), (driver, reason.clone()), "{url:?}");
        assert_eq!(driver_for(url), driver, "{url:?}");
    }
}
