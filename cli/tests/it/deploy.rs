//! The SAM template, checked offline: cfn-lint (what `sam validate --lint` runs) and aws-sam-translator
//! (what `sam deploy` has CloudFormation run), both installed by `.ci/setup`. The checks run on each
//! parameter set a deploy may use: the stack creating the network and the database (a first
//! `sam deploy --guided`), and the stack given existing ones.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// What `sam deploy --guided` asks a first deploy for; everything else has a default.
const ANSWERS: [&str; 3] = [
    "AdminIds=123456789",
    "TelegramBotToken=123456:AAbbCCdd-ee_ff",
    "ReplicateApiToken=r8_0123456789abcdef",
];

const BRING_YOUR_OWN: [&str; 4] = [
    "PrivateSubnetIds=subnet-0aaaa1111aaaa1111,subnet-0bbbb2222bbbb2222",
    "SecurityGroupIds=sg-0cccc3333cccc3333",
    "DbProxyEndpoint=dream-photo.proxy-abcdefghijkl.eu-west-1.rds.amazonaws.com",
    "DbProxyResourceId=prx-0123456789abcdef0",
];

/// The parameter sets, by name. Each path also with every optional part on (provider payments,
/// reserved concurrency, tracing, a custom domain, alarm e-mail), which adds variables, secrets
/// and resources.
fn parameter_sets() -> Vec<(&'static str, Vec<&'static str>)> {
    let everything_on = [
        "PaymentCurrency=RUB",
        "ReserveConcurrency=true",
        "Tracing=on",
        "PublicUrl=https://api.example.com",
        "AlarmEmail=ops@example.com",
        "CorsOrigins=https://app.example.com",
    ];
    let create: Vec<&str> = ANSWERS.to_vec();
    let own: Vec<&str> = ANSWERS.iter().chain(&BRING_YOUR_OWN).copied().collect();
    vec![
        ("create-everything", create.clone()),
        (
            "create-everything, all options",
            create.iter().chain(&everything_on).copied().collect(),
        ),
        ("bring-your-own", own.clone()),
        (
            "bring-your-own, all options",
            own.iter().chain(&everything_on).copied().collect(),
        ),
    ]
}

fn sam_expand(args: &[&str]) -> std::process::Output {
    Command::new("python3")
        .arg("cli/tests/it/sam_expand.py")
        .arg("template.yaml")
        .args(args)
        .current_dir(root())
        .output()
        .expect("python3 with aws-sam-translator (pip install aws-sam-translator; .ci/setup does)")
}

/// template.yaml expanded by aws-sam-translator and resolved for one parameter set, as CloudFormation
/// would create it: conditions decided, resources of false conditions left out, Fn::If chosen.
fn resolved(params: &[&str]) -> Value {
    let args: Vec<&str> = ["--resolve"].iter().chain(params).copied().collect();
    let output = sam_expand(&args);
    assert!(
        output.status.success(),
        "aws-sam-translator could not expand the template with {params:?}:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("the expanded template is JSON")
}

/// The template resolved with each parameter set, with the set's name.
fn resolved_templates() -> impl Iterator<Item = (&'static str, Value)> {
    parameter_sets()
        .into_iter()
        .map(|(set, params)| (set, resolved(&params)))
}

fn cfn_lint(path: &Path) -> std::process::Output {
    Command::new("cfn-lint")
        .arg(path)
        .current_dir(root())
        .output()
        .expect("cfn-lint is needed for this test: pip install cfn-lint (.ci/setup does)")
}

const FUNCTIONS: [&str; 5] = [
    "TelegramWebhookFunction",
    "ApiFunction",
    "ReplicateWebhookFunction",
    "TrainingWorkerFunction",
    "DeployHooksFunction",
];

/// The functions that serve people and use the database as the runtime role.
const DATABASE_FUNCTIONS: [&str; 4] = [
    "TelegramWebhookFunction",
    "ApiFunction",
    "ReplicateWebhookFunction",
    "TrainingWorkerFunction",
];

fn env_of<'a>(template: &'a Value, function: &str) -> &'a serde_json::Map<String, Value> {
    template["Resources"][function]["Properties"]["Environment"]["Variables"]
        .as_object()
        .unwrap_or_else(|| panic!("{function} has an environment"))
}

#[test]
fn the_sam_template_passes_cfn_lint() {
    let output = cfn_lint(Path::new("template.yaml"));
    assert!(
        output.status.success(),
        "cfn-lint found problems:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// cfn-lint resolves a Ref to a parameter from its default: the template with each set's values as
/// the defaults is linted as CloudFormation would see that deploy.
#[test]
fn every_parameter_set_passes_cfn_lint() {
    for (name, params) in parameter_sets() {
        let args: Vec<&str> = ["--defaults"].iter().chain(&params).copied().collect();
        let output = sam_expand(&args);
        assert!(output.status.success(), "{name}");
        let path = std::env::temp_dir().join(format!(
            "dream-photo-template-{}-{}.json",
            std::process::id(),
            name.replace([' ', ','], "-")
        ));
        std::fs::write(&path, &output.stdout).unwrap();
        let lint = cfn_lint(&path);
        std::fs::remove_file(&path).ok();
        assert!(
            lint.status.success(),
            "cfn-lint found problems with the {name} parameters:\n{}{}",
            String::from_utf8_lossy(&lint.stdout),
            String::from_utf8_lossy(&lint.stderr)
        );
    }
}

#[test]
fn the_create_everything_path_creates_the_network_and_the_database() {
    let template = resolved(&ANSWERS);
    let resources = &template["Resources"];
    let count = |kind: &str| {
        resources
            .as_object()
            .unwrap()
            .values()
            .filter(|r| r["Type"] == kind)
            .count()
    };
    assert_eq!(count("AWS::EC2::VPC"), 1);
    assert_eq!(
        count("AWS::EC2::Subnet"),
        4,
        "a public and a private subnet in two AZs"
    );
    assert_eq!(count("AWS::EC2::NatGateway"), 1);
    assert_eq!(count("AWS::EC2::InternetGateway"), 1);
    assert_eq!(count("AWS::RDS::DBInstance"), 1);
    assert_eq!(count("AWS::RDS::DBProxy"), 1);
    assert_eq!(count("AWS::RDS::DBSubnetGroup"), 1);
    let azs: BTreeSet<String> = ["PrivateSubnetA", "PrivateSubnetB"]
        .iter()
        .map(|s| resources[s]["Properties"]["AvailabilityZone"].to_string())
        .collect();
    assert_eq!(azs.len(), 2, "the private subnets are in two AZs");
    // The private subnets go out through the NAT; S3 through the gateway endpoint.
    assert_eq!(
        resources["PrivateDefaultRoute"]["Properties"]["NatGatewayId"],
        serde_json::json!({"Ref": "NatGateway"})
    );
    assert_eq!(
        resources["S3GatewayEndpoint"]["Properties"]["RouteTableIds"],
        serde_json::json!([{"Ref": "PrivateRouteTable"}])
    );
    for function in FUNCTIONS {
        let vpc = &resources[function]["Properties"]["VpcConfig"];
        assert_eq!(
            vpc["SubnetIds"],
            serde_json::json!([{"Ref": "PrivateSubnetA"}, {"Ref": "PrivateSubnetB"}]),
            "{function} runs in the private subnets"
        );
        assert_eq!(
            vpc["SecurityGroupIds"],
            serde_json::json!([{"Ref": "FunctionSecurityGroup"}])
        );
    }

    // Each hop on PostgreSQL's port is open from the group before it only.
    let ingress_sources = |group: &str| -> Vec<Value> {
        let inline = resources[group]["Properties"]["SecurityGroupIngress"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let separate = resources
            .as_object()
            .unwrap()
            .values()
            .filter(|r| {
                r["Type"] == "AWS::EC2::SecurityGroupIngress"
                    && r["Properties"]["GroupId"] == serde_json::json!({"Ref": group})
            })
            .map(|r| r["Properties"].clone());
        inline
            .into_iter()
            .chain(separate)
            .map(|rule| {
                assert!(
                    rule.get("CidrIp").is_none(),
                    "{group} is open to no address range"
                );
                rule["SourceSecurityGroupId"].clone()
            })
            .collect()
    };
    assert_eq!(
        ingress_sources("DatabaseSecurityGroup"),
        vec![serde_json::json!({"Ref": "ProxySecurityGroup"})]
    );
    assert_eq!(
        ingress_sources("ProxySecurityGroup"),
        vec![serde_json::json!({"Ref": "FunctionSecurityGroup"})]
    );
    assert!(ingress_sources("FunctionSecurityGroup").is_empty());

    let db = &resources["Database"];
    assert_eq!(db["Properties"]["ManageMasterUserPassword"], true);
    assert_eq!(db["Properties"]["EnableIAMDatabaseAuthentication"], true);
    assert_eq!(db["Properties"]["PubliclyAccessible"], false);
    assert_eq!(db["Properties"]["StorageEncrypted"], true);
    assert_eq!(
        db["DeletionPolicy"], "Snapshot",
        "deleting the stack keeps a snapshot"
    );
    let proxy = &resources["DbProxy"]["Properties"];
    assert_eq!(proxy["RequireTLS"], true);
    assert_eq!(proxy["DefaultAuthScheme"], "IAM_AUTH");
    for auth in proxy["Auth"].as_array().unwrap() {
        assert_eq!(
            auth["IAMAuth"], "REQUIRED",
            "clients log in with IAM tokens only"
        );
    }
    assert_eq!(
        resources["DbProxyTargetGroup"]["Properties"]["DBInstanceIdentifiers"],
        serde_json::json!([{"Ref": "Database"}])
    );
}

#[test]
fn the_bring_your_own_path_creates_no_network_and_no_database() {
    let own: Vec<&str> = ANSWERS.iter().chain(&BRING_YOUR_OWN).copied().collect();
    let template = resolved(&own);
    for (name, resource) in template["Resources"].as_object().unwrap() {
        let kind = resource["Type"].as_str().unwrap();
        assert!(
            !kind.starts_with("AWS::EC2::") && !kind.starts_with("AWS::RDS::"),
            "{name} ({kind}) is not created when the network and the database are given"
        );
    }
    for function in FUNCTIONS {
        let vpc = &template["Resources"][function]["Properties"]["VpcConfig"];
        assert_eq!(
            vpc["SubnetIds"],
            serde_json::json!({"Ref": "PrivateSubnetIds"})
        );
        assert_eq!(
            vpc["SecurityGroupIds"],
            serde_json::json!({"Ref": "SecurityGroupIds"})
        );
    }
}

#[test]
fn a_network_given_without_its_database_is_refused() {
    let half: Vec<&str> = ANSWERS
        .iter()
        .chain(&BRING_YOUR_OWN[..2])
        .copied()
        .collect();
    let args: Vec<&str> = ["--resolve"].iter().chain(&half).copied().collect();
    let output = sam_expand(&args);
    assert!(!output.status.success());
    let error = String::from_utf8_lossy(&output.stderr);
    assert!(
        error.contains("BringYourOwnNetworkAndDatabaseTogether"),
        "the rule says why: {error}"
    );
}

#[test]
fn the_template_builds_every_function_with_sam_build() {
    let output = sam_expand(&["--defaults"]);
    assert!(output.status.success());
    let template: Value = serde_json::from_slice(&output.stdout).unwrap();
    for function in FUNCTIONS {
        let resource = &template["Resources"][function];
        assert_eq!(resource["Metadata"]["BuildMethod"], "rust-cargolambda");
        let code = resource["Properties"]["CodeUri"].as_str().unwrap();
        let binary = resource["Metadata"]["BuildProperties"]["Binary"]
            .as_str()
            .unwrap();
        // The builder runs `cargo lambda build --bin <Binary>` in CodeUri and copies
        // target/lambda/<Binary>/bootstrap: the crate there must build a binary of that name.
        let manifest = std::fs::read_to_string(root().join(code).join("Cargo.toml"))
            .unwrap_or_else(|_| panic!("{function}'s CodeUri {code} is a crate"));
        assert!(
            manifest.contains(&format!("name = \"{binary}\"")),
            "{code} builds the binary {binary}"
        );
        assert!(root().join(code).join("src/main.rs").exists());
    }
    let samconfig = std::fs::read_to_string(root().join("samconfig.toml")).unwrap();
    assert!(
        samconfig.contains("[default.build.parameters]\nbeta_features = true"),
        "rust-cargolambda needs SAM's beta features"
    );
    assert!(
        !samconfig.contains("template_file"),
        "sam deploy takes the built template"
    );

    let template = std::fs::read_to_string(root().join("template.yaml")).unwrap();
    for route in [
        "/telegram/webhook",
        "/replicate/webhook",
        "/health",
        "/api/{proxy+}",
    ] {
        assert!(template.contains(route), "the HTTP API routes {route}");
    }
    assert!(template.contains("ReportBatchItemFailures"));
    assert!(template.contains("maxReceiveCount"));
}

#[test]
fn every_function_variable_is_one_config_reads() {
    let known: Vec<String> = shared::config::VARIABLES
        .iter()
        .map(|v| v.to_string())
        .chain(
            shared::secrets::SECRET_SETTINGS
                .iter()
                .map(|s| format!("{s}_ARN")),
        )
        // The log filter, read by shared::telemetry rather than Config.
        .chain(["RUST_LOG".to_owned()])
        .collect();
    for (set, template) in resolved_templates() {
        for function in FUNCTIONS {
            let vars = env_of(&template, function);
            for name in vars.keys() {
                assert!(
                    known.contains(name),
                    "{function} sets {name}, which Config does not read ({set})"
                );
            }
            for needed in [
                "DATABASE_URL",
                "DATABASE_IAM_AUTH",
                "TELEGRAM_BOT_TOKEN_ARN",
            ] {
                assert!(
                    vars.contains_key(needed),
                    "{function} needs {needed} ({set})"
                );
            }
        }
    }
}

/// The statements of a role: its inline policies and the template's managed policies it attaches.
fn statements_of_role(template: &Value, role: &str) -> Vec<Value> {
    let resources = &template["Resources"];
    let properties = &resources[role]["Properties"];
    let mut documents: Vec<Value> = properties["Policies"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|p| p["PolicyDocument"].clone())
        .collect();
    for arn in properties["ManagedPolicyArns"]
        .as_array()
        .into_iter()
        .flatten()
    {
        if let Some(policy) = arn["Ref"].as_str() {
            documents.push(resources[policy]["Properties"]["PolicyDocument"].clone());
        }
    }
    documents
        .iter()
        .flat_map(|d| match &d["Statement"] {
            Value::Array(list) => list.clone(),
            one => vec![one.clone()],
        })
        .collect()
}

fn as_list(value: &Value) -> Vec<Value> {
    match value {
        Value::Array(list) => list.clone(),
        Value::Null => vec![],
        one => vec![one.clone()],
    }
}

/// The resources an allowing statement grants one of `actions` on (`*` patterns included).
fn granted(statements: &[Value], service: &str, action: &str) -> Vec<Value> {
    statements
        .iter()
        .filter(|s| s["Effect"] == "Allow")
        .filter(|s| {
            as_list(&s["Action"]).iter().any(|a| {
                let a = a.as_str().unwrap_or_default();
                a == "*" || a == format!("{service}:*") || a == format!("{service}:{action}")
            })
        })
        .flat_map(|s| as_list(&s["Resource"]))
        .collect()
}

fn role_of(template: &Value, function: &str) -> String {
    template["Resources"][function]["Properties"]["Role"]["Fn::GetAtt"][0]
        .as_str()
        .unwrap_or_else(|| panic!("{function}'s role is in the template"))
        .to_owned()
}

/// A function may read exactly the secrets its environment names as `<SETTING>_ARN`, the ones its
/// code reads at cold start (shared::secrets::resolve reads every such variable it is given).
#[test]
fn no_function_can_read_a_secret_it_does_not_use() {
    for (set, template) in resolved_templates() {
        let resources = template["Resources"].as_object().unwrap();
        let secrets: BTreeSet<&str> = resources
            .iter()
            .filter(|(_, r)| r["Type"] == "AWS::SecretsManager::Secret")
            .map(|(name, _)| name.as_str())
            .collect();
        for function in FUNCTIONS {
            let named: BTreeSet<String> = env_of(&template, function)
                .iter()
                .filter(|(name, _)| {
                    shared::secrets::SECRET_SETTINGS
                        .iter()
                        .any(|s| **name == format!("{s}_ARN"))
                })
                .map(|(name, value)| {
                    let secret = value["Ref"]
                        .as_str()
                        .unwrap_or_else(|| panic!("{function}'s {name} names a stack secret"));
                    assert!(secrets.contains(secret), "{function}: {name}");
                    secret.to_owned()
                })
                .collect();
            let role = role_of(&template, function);
            let statements = statements_of_role(&template, &role);
            let readable: BTreeSet<String> =
                granted(&statements, "secretsmanager", "GetSecretValue")
                    .iter()
                    .map(|resource| {
                        resource["Ref"]
                        .as_str()
                        .unwrap_or_else(|| {
                            panic!("{function} may read secrets beyond its own: {resource} ({set})")
                        })
                        .to_owned()
                    })
                    .collect();
            assert_eq!(
                readable, named,
                "{function} may read exactly the secrets it is given ({set})"
            );
            for statement in &statements {
                for action in as_list(&statement["Action"]) {
                    let action = action.as_str().unwrap_or_default();
                    assert!(
                        !action.starts_with("secretsmanager:")
                            || action == "secretsmanager:GetSecretValue",
                        "{function} may {action} ({set})"
                    );
                }
            }
        }
        // The database's master password: the proxy's role alone may read it.
        let master = serde_json::json!({"Fn::GetAtt": ["Database", "MasterUserSecret.SecretArn"]});
        for (name, resource) in resources {
            if resource["Type"] != "AWS::IAM::Role" {
                continue;
            }
            let readable = granted(
                &statements_of_role(&template, name),
                "secretsmanager",
                "GetSecretValue",
            );
            if readable.contains(&master) {
                assert_eq!(
                    name, "DbProxyRole",
                    "{name} may read the master password ({set})"
                );
            }
        }
        if resources.contains_key("Database") {
            let proxy = granted(
                &statements_of_role(&template, "DbProxyRole"),
                "secretsmanager",
                "GetSecretValue",
            );
            assert_eq!(
                proxy,
                vec![master.clone()],
                "the proxy reads the master secret only"
            );
        }
    }
}

/// The variables that only some functions read reach those that do: the bot's (its buttons) and
/// the deploy hooks' (its registration with Telegram).
#[test]
fn the_mini_app_url_reaches_the_bot_and_its_registration() {
    for (set, template) in resolved_templates() {
        for function in ["TelegramWebhookFunction", "DeployHooksFunction"] {
            let vars = env_of(&template, function);
            for needed in ["MINI_APP_URL", "ADMIN_IDS", "SUPPORT_CONTACT"]
                .iter()
                .filter(|n| function == "TelegramWebhookFunction" || **n != "SUPPORT_CONTACT")
            {
                assert!(
                    vars.contains_key(*needed),
                    "{set}: {function} needs {needed}"
                );
            }
        }
    }
}

/// The user in a function's DATABASE_URL (`postgres://${User}@...`) and the `dbuser:.../<user>` its
/// role may `rds-db:connect` as.
#[test]
fn the_functions_log_in_as_the_runtime_role_and_the_migrations_as_the_owner() {
    for (set, template) in resolved_templates() {
        let resources = &template["Resources"];
        for function in FUNCTIONS {
            let url = match &env_of(&template, function)["DATABASE_URL"]["Fn::Sub"] {
                Value::String(s) => s.clone(),
                Value::Array(parts) => parts[0].as_str().unwrap().to_owned(),
                other => panic!("{function}'s DATABASE_URL is {other}"),
            };
            let user = if function == "DeployHooksFunction" {
                "${MigrationDbUser}"
            } else {
                "${DbUser}"
            };
            assert!(
                url.starts_with(&format!("postgres://{user}@"))
                    && url.ends_with("?sslmode=require"),
                "{function} logs in as {user} over TLS: {url} ({set})"
            );
            assert_eq!(env_of(&template, function)["DATABASE_IAM_AUTH"], "true");
            let statements = statements_of_role(&template, &role_of(&template, function));
            let connect = granted(&statements, "rds-db", "connect");
            assert_eq!(connect.len(), 1, "{function} connects as one user ({set})");
            let arn = connect[0]["Fn::Sub"][0].as_str().unwrap();
            assert!(
                arn.ends_with(&format!(":dbuser:${{ProxyId}}/{user}")),
                "{function} may connect as {user} through the proxy only: {arn} ({set})"
            );
        }
        if resources.get("Database").is_some() {
            assert_eq!(
                resources["Database"]["Properties"]["MasterUsername"],
                serde_json::json!({"Ref": "MigrationDbUser"}),
                "the migrations log in as the master user, who owns the tables"
            );
            let proxy = granted(
                &statements_of_role(&template, "DbProxyRole"),
                "rds-db",
                "connect",
            );
            assert_eq!(proxy.len(), 1);
            assert!(
                proxy[0]["Fn::Sub"]
                    .as_str()
                    .unwrap()
                    .ends_with(":dbuser:${Database.DbiResourceId}/${DbUser}"),
                "the proxy logs in to the database with IAM as the functions' role"
            );
        }
    }
}

/// The resources one depends on: DependsOn, and every Ref, Fn::GetAtt and ${...} of Fn::Sub in it.
fn direct_dependencies(resource: &Value, names: &BTreeSet<String>) -> BTreeSet<String> {
    fn walk(node: &Value, found: &mut BTreeSet<String>) {
        match node {
            Value::Object(map) => {
                for (key, value) in map {
                    match (key.as_str(), value) {
                        ("Ref", Value::String(name)) => {
                            found.insert(name.split('.').next().unwrap().to_owned());
                        }
                        ("Fn::GetAtt", Value::Array(parts)) => {
                            found.insert(parts[0].as_str().unwrap().to_owned());
                        }
                        ("Fn::Sub", sub) => {
                            let text = match sub {
                                Value::Array(parts) => parts[0].as_str().unwrap_or_default(),
                                other => other.as_str().unwrap_or_default(),
                            };
                            for piece in text.split("${").skip(1) {
                                let name = piece.split(['}', '.']).next().unwrap();
                                found.insert(name.to_owned());
                            }
                            walk(sub, found);
                        }
                        _ => walk(value, found),
                    }
                }
            }
            Value::Array(list) => list.iter().for_each(|v| walk(v, found)),
            _ => {}
        }
    }
    let mut found: BTreeSet<String> = as_list(&resource["DependsOn"])
        .iter()
        .map(|d| d.as_str().unwrap().to_owned())
        .collect();
    walk(&resource["Properties"], &mut found);
    found.retain(|n| names.contains(n));
    found
}

/// Everything `resource` waits for before CloudFormation creates or updates it.
fn waits_for(template: &Value, resource: &str) -> BTreeSet<String> {
    let resources = template["Resources"].as_object().unwrap();
    let names: BTreeSet<String> = resources.keys().cloned().collect();
    let graph: BTreeMap<&str, BTreeSet<String>> = resources
        .iter()
        .map(|(name, r)| (name.as_str(), direct_dependencies(r, &names)))
        .collect();
    let mut seen = BTreeSet::new();
    let mut todo = vec![resource.to_owned()];
    while let Some(next) = todo.pop() {
        for dep in &graph[next.as_str()] {
            if seen.insert(dep.clone()) {
                todo.push(dep.clone());
            }
        }
    }
    assert!(!seen.contains(resource), "{resource} depends on itself");
    seen
}

#[test]
fn migrations_run_before_the_functions_that_use_the_database() {
    for (set, template) in resolved_templates() {
        let resources = template["Resources"].as_object().unwrap();
        assert_eq!(resources["Migrations"]["Type"], "Custom::Migrations");
        for function in DATABASE_FUNCTIONS {
            assert!(
                waits_for(&template, function).contains("Migrations"),
                "{function} waits for the migrations ({set})"
            );
        }
        // Traffic reaches the new code through the routes, the queue's event source and the schedule:
        // each waits for the migrations too.
        for (name, resource) in resources {
            let kind = resource["Type"].as_str().unwrap();
            if matches!(
                kind,
                "AWS::Lambda::EventSourceMapping"
                    | "AWS::Events::Rule"
                    | "AWS::Scheduler::Schedule"
                    | "AWS::ApiGatewayV2::Integration"
            ) {
                assert!(
                    waits_for(&template, name).contains("Migrations"),
                    "{name} ({kind}) waits for the migrations ({set})"
                );
            }
        }
        let migrations = waits_for(&template, "Migrations");
        assert!(migrations.contains("DeployHooksFunctionAliaslive"));
        if resources.contains_key("Database") {
            for ready in [
                "Database",
                "DbProxy",
                "DbProxyTargetGroup",
                "PrivateDefaultRoute",
            ] {
                assert!(
                    migrations.contains(ready),
                    "the migrations wait for {ready} ({set})"
                );
            }
            // Deleted before the way out of the private subnets is: the hooks' answers to
            // CloudFormation on `sam delete` leave through the route table links and the S3 endpoint.
            for hook in ["Migrations", "ReplicateWebhookSigningSecret"] {
                let waits = waits_for(&template, hook);
                for way_out in [
                    "PrivateDefaultRoute",
                    "PrivateSubnetARouteTable",
                    "PrivateSubnetBRouteTable",
                    "S3GatewayEndpoint",
                ] {
                    assert!(waits.contains(way_out), "{hook} outlives {way_out} ({set})");
                }
            }
        }
        // No hook holds a stack for CloudFormation's default hour.
        for (name, resource) in resources {
            if resource["Type"].as_str().unwrap().starts_with("Custom::") {
                let timeout = resource["Properties"]["ServiceTimeout"].as_i64();
                assert!(
                    timeout.is_some_and(|t| t <= 600),
                    "{name} has a ServiceTimeout ({set})"
                );
            }
        }
    }
}

#[test]
fn the_webhook_is_registered_once_the_api_serves_it() {
    for (set, template) in resolved_templates() {
        let registration = &template["Resources"]["TelegramWebhookRegistration"];
        assert_eq!(registration["Type"], "Custom::TelegramWebhook");
        let waits = waits_for(&template, "TelegramWebhookRegistration");
        for needed in [
            "HttpApi",
            "HttpApiApiGatewayDefaultStage",
            "TelegramWebhookRoute",
            "TelegramWebhookIntegration",
            "TelegramWebhookInvokePermission",
            "TelegramWebhookFunction",
            "Migrations",
        ] {
            assert!(
                waits.contains(needed),
                "the registration waits for {needed} ({set})"
            );
        }
        // What it sets in Telegram besides the webhook is among its properties: changed, it runs
        // again (a menu button set after the first deploy, new owners, new code).
        let properties = &registration["Properties"];
        for property in ["MiniAppUrl", "AdminIds", "CodeVersion"] {
            assert!(
                !properties[property].is_null(),
                "the registration names {property} ({set})"
            );
        }
    }
}

#[test]
fn reserved_concurrency_is_off_by_default_and_leaves_the_bot_its_share() {
    let template = resolved(&ANSWERS);
    for function in FUNCTIONS {
        assert!(
            template["Resources"][function]["Properties"]
                .get("ReservedConcurrentExecutions")
                .is_none(),
            "{function} reserves nothing in a new account (quota 10)"
        );
    }
    let on: Vec<&str> = ANSWERS
        .iter()
        .chain(&["ReserveConcurrency=true"])
        .copied()
        .collect();
    let template = resolved(&on);
    let resources = &template["Resources"];
    let reserved = |f: &str| {
        resources[f]["Properties"]["ReservedConcurrentExecutions"]
            .as_i64()
            .unwrap_or_else(|| panic!("{f} has reserved concurrency"))
    };
    let total: i64 = FUNCTIONS.iter().map(|f| reserved(f)).sum();
    // One connection each (DATABASE_POOL_SIZE 1); the proxy's budget is documented in docs/deploy.md.
    assert!(total <= 60, "{total} connections at most");
    // The bot keeps the largest share: a person waiting on a reply comes first.
    for function in &FUNCTIONS[1..] {
        assert!(
            reserved("TelegramWebhookFunction") > reserved(function),
            "{function}"
        );
    }
}

#[test]
fn the_replicate_signing_secret_is_read_by_the_deploy() {
    for (set, template) in resolved_templates() {
        let resources = &template["Resources"];
        assert_eq!(
            resources["ReplicateWebhookSigningSecret"]["Type"],
            "Custom::ReplicateWebhookSecret"
        );
        assert_eq!(
            resources["ReplicateWebhookSecret"]["Properties"]["SecretString"],
            serde_json::json!({"Fn::GetAtt": ["ReplicateWebhookSigningSecret", "Key"]}),
            "nobody copies it by hand ({set})"
        );
        if resources.get("NatGateway").is_some() {
            assert!(
                waits_for(&template, "ReplicateWebhookSigningSecret")
                    .contains("PrivateDefaultRoute"),
                "Replicate is reached through the NAT ({set})"
            );
        }
    }
}
