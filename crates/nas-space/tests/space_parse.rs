//! Reading search spaces from TOML: the flat schema, the `[stages]` template, every validation
//! error (with its file, line and key), and configuration counts.

use nas_space::{
    count_architectures, count_configurations_of, is_architecture_param, Comparison, Condition,
    Config, Distribution, Param, ParamValue, SearchSpace, SpaceError,
};

const FILE: &str = "search_spaces/test.toml";

const FLAT_EXAMPLE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../search_spaces/flat_example.toml"
);
const LIGHTWEIGHT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../search_spaces/lightweight.toml"
);

fn parse(text: &str) -> Result<SearchSpace, SpaceError> {
    SearchSpace::from_toml_str(text, FILE)
}

fn parse_ok(text: &str) -> SearchSpace {
    parse(text).unwrap_or_else(|e| panic!("the space should parse: {e}"))
}

fn load(path: &str) -> SearchSpace {
    SearchSpace::from_toml_file(path.as_ref()).unwrap_or_else(|e| panic!("{e}"))
}

/// Parses `text`, which must be rejected with a message starting with the file, `line` and `key`
/// and containing `fragment`.
#[track_caller]
fn rejected(text: &str, line: usize, key: &str, fragment: &str) -> SpaceError {
    let error = parse(text).expect_err("the space should be rejected");
    let message = error.to_string();
    let prefix = format!("{FILE}:{line}: key `{key}`: ");
    assert!(
        message.starts_with(&prefix),
        "expected `{prefix}…`, got `{message}`"
    );
    assert!(
        message.contains(fragment),
        "expected `{fragment}` in `{message}`"
    );
    error
}

fn config(entries: &[(&str, ParamValue)]) -> Config {
    entries
        .iter()
        .map(|(name, value)| (name.to_string(), value.clone()))
        .collect()
}

fn names(space: &SearchSpace) -> Vec<&str> {
    space.params().iter().map(|p| p.name.as_str()).collect()
}

fn conditions<'s>(space: &'s SearchSpace, name: &str) -> &'s [Condition] {
    let i = space
        .index_of(name)
        .unwrap_or_else(|| panic!("no `{name}`"));
    &space.params()[i].conditions
}

fn active(space: &SearchSpace, name: &str, config: &Config) -> bool {
    let i = space
        .index_of(name)
        .unwrap_or_else(|| panic!("no `{name}`"));
    space.is_active(i, config)
}

// ---- Ranges ---------------------------------------------------------------------------------

#[test]
fn low_must_be_below_high() {
    let text = "[params.lr]\ntype = \"float\"\nlow = 1\nhigh = 0.5\n";
    let error = rejected(text, 3, "params.lr.low", "low (1) must be < high (0.5)");
    assert!(matches!(error, SpaceError::EmptyRange { .. }));
    let text = "[params.depth]\ntype = \"int\"\nhigh = 3\nlow = 3\n";
    rejected(text, 4, "params.depth.low", "low (3) must be < high (3)");
}

#[test]
fn log_scale_needs_positive_low() {
    let text = "[params.lr]\ntype = \"float\"\nlow = 0.0\nhigh = 1.0\nlog = true\n";
    let error = rejected(text, 3, "params.lr.low", "log scale needs low > 0");
    assert!(matches!(error, SpaceError::LogNotPositive { .. }));
}

#[test]
fn log_scale_takes_no_step() {
    let text = "[params.lr]\ntype = \"float\"\nlow = 0.1\nhigh = 1.0\nlog = true\nstep = 0.1\n";
    let error = rejected(text, 6, "params.lr.step", "log scale cannot have step 0.1");
    assert!(matches!(error, SpaceError::LogWithStep { .. }));
    let text = "[params.width]\ntype = \"int\"\nlow = 8\nhigh = 128\nstep = 8\nlog = true\n";
    rejected(text, 5, "params.width.step", "log scale cannot have step 8");
    let text = "[params.width]\ntype = \"int\"\nlow = 8\nhigh = 128\nstep = 1\nlog = true\n";
    assert!(parse(text).is_ok(), "log ints take step 1");
}

#[test]
fn step_must_be_positive() {
    let text = "[params.x]\ntype = \"float\"\nlow = 0.0\nhigh = 1.0\nstep = 0.0\n";
    let error = rejected(text, 5, "params.x.step", "step must be > 0, found 0");
    assert!(matches!(error, SpaceError::StepNotPositive { .. }));
    let text = "[params.n]\ntype = \"int\"\nlow = 0\nhigh = 10\nstep = -2\n";
    rejected(text, 5, "params.n.step", "step must be > 0, found -2");
}

#[test]
fn step_must_divide_the_range() {
    let text = "[params.x]\ntype = \"float\"\nlow = 0.0\nhigh = 1.0\nstep = 0.3\n";
    let error = rejected(
        text,
        5,
        "params.x.step",
        "step 0.3 does not divide the range [0, 1]",
    );
    assert!(matches!(error, SpaceError::StepNotDividing { .. }));
    let text = "[params.width]\ntype = \"int\"\nlow = 8\nhigh = 100\nstep = 8\n";
    rejected(
        text,
        5,
        "params.width.step",
        "step 8 does not divide the range [8, 100]",
    );
    // Rounding in binary floating point is tolerated.
    let text = "[params.x]\ntype = \"float\"\nlow = 0.0\nhigh = 0.2\nstep = 0.05\n\
                [params.y]\ntype = \"float\"\nlow = 0.1\nhigh = 0.7\nstep = 0.1\n";
    let space = parse_ok(text);
    assert_eq!(space.count_configurations(), Some(5 * 7));
}

#[test]
fn ranges_too_wide_to_count_are_rejected() {
    let text =
        "[params.n]\ntype = \"int\"\nlow = -9223372036854775808\nhigh = 9223372036854775807\n";
    let error = rejected(text, 3, "params.n.low", "is too wide");
    assert!(matches!(error, SpaceError::RangeTooWide { .. }));
    let text = "[params.x]\ntype = \"float\"\nlow = 0.0\nhigh = 1e30\nstep = 1e-10\n";
    rejected(text, 3, "params.x.low", "is too wide");
    // Ints beyond 2^53 are not exact as the samplers' floats: 2^60 and 2^60 + 1 would merge.
    let text =
        "[params.n]\ntype = \"int\"\nlow = 1152921504606846976\nhigh = 1152921504606846977\n";
    rejected(text, 3, "params.n.low", "within ±2^53");
    // A float range whose width overflows.
    let text = "[params.x]\ntype = \"float\"\nlow = -1e308\nhigh = 1e308\n";
    rejected(text, 3, "params.x.low", "finite width");
}

#[test]
fn ints_must_be_toml_integers() {
    let text = "[params.depth]\ntype = \"int\"\nlow = 1.0\nhigh = 4\n";
    let error = rejected(
        text,
        3,
        "params.depth.low",
        "expected an integer, found the float 1.0",
    );
    assert!(matches!(error, SpaceError::WrongType { .. }));
    let text = "[params.depth]\ntype = \"int\"\nlow = 1\nhigh = 4\nstep = 0.5\n";
    rejected(text, 5, "params.depth.step", "expected an integer");
    let text = "[params.depth]\ntype = \"int\"\nlow = 1\nhigh = 99999999999999999999\n";
    rejected(text, 4, "params.depth.high", "fits in 64 bits");
}

#[test]
fn values_of_the_wrong_kind_are_rejected() {
    let text = "[params.lr]\ntype = \"float\"\nlow = 0.1\nhigh = 1.0\nlog = \"yes\"\n";
    rejected(
        text,
        5,
        "params.lr.log",
        "expected a boolean, found the string \"yes\"",
    );
    let text = "[params.lr]\ntype = \"float\"\nlow = nan\nhigh = 1.0\n";
    rejected(text, 3, "params.lr.low", "expected a finite number");
    let text = "[params.opt]\nchoices = [\"sgd\", [1]]\n";
    rejected(
        text,
        2,
        "params.opt.choices",
        "expected a string, number or boolean",
    );
    let text = "params = 3\n";
    rejected(text, 1, "params", "expected a table, found the integer 3");
}

#[test]
fn cardinality_of_extreme_ranges_saturates_instead_of_overflowing() {
    let int = |low, high, step| Distribution::Int {
        low,
        high,
        log: false,
        step,
    };
    assert_eq!(
        int(i64::MIN + 1, i64::MAX, 1).cardinality(),
        Some(u128::from(u64::MAX))
    );
    assert_eq!(int(i64::MIN, i64::MAX, 1).cardinality(), Some(1 << 64));
    assert_eq!(int(i64::MIN, i64::MAX, i64::MAX).cardinality(), Some(3));
    let float = Distribution::Float {
        low: -f64::MAX,
        high: f64::MAX,
        log: false,
        step: Some(f64::MIN_POSITIVE),
    };
    assert_eq!(float.cardinality(), Some(u128::MAX));
}

// ---- Choices --------------------------------------------------------------------------------

#[test]
fn choices_must_not_be_empty() {
    let text = "[params.opt]\ntype = \"categorical\"\nchoices = []\n";
    let error = rejected(text, 3, "params.opt.choices", "at least one choice");
    assert!(matches!(error, SpaceError::EmptyChoices { .. }));
}

#[test]
fn duplicate_choices_are_reported_at_the_repeat() {
    let text = "[params.opt]\nchoices = [\n  \"sgd\",\n  \"adam\",\n  \"sgd\",\n]\n";
    let error = rejected(
        text,
        5,
        "params.opt.choices",
        "choice \"sgd\" is listed twice",
    );
    assert!(matches!(error, SpaceError::DuplicateChoice { .. }));
    let text = "[params.k]\nchoices = [3, 5, 3.0]\n";
    rejected(text, 2, "params.k.choices", "choice 3 is listed twice");
}

// ---- Keys and types -------------------------------------------------------------------------

#[test]
fn missing_keys_are_named() {
    let text = "\n[params.lr]\ntype = \"float\"\nlow = 0.1\n";
    let error = rejected(text, 2, "params.lr.high", "need `low` and `high`");
    assert!(matches!(error, SpaceError::MissingKey { .. }));
    let text = "[params.lr]\nlow = 0.1\nhigh = 1.0\n";
    rejected(
        text,
        1,
        "params.lr.type",
        "needs a `type`, unless it has `choices`",
    );
    let text = "[params.opt]\ntype = \"categorical\"\n";
    rejected(text, 1, "params.opt.choices", "need `choices`");
}

#[test]
fn unknown_types_are_rejected() {
    let text = "[params.lr]\ntype = \"double\"\nlow = 0.1\nhigh = 1.0\n";
    let error = rejected(
        text,
        2,
        "params.lr.type",
        "unknown parameter type \"double\"",
    );
    assert!(matches!(error, SpaceError::UnknownType { .. }));
}

#[test]
fn unknown_keys_name_the_allowed_ones() {
    let text = "[params.lr]\ntype = \"float\"\nlow = 0.1\nhgih = 1.0\n";
    let error = rejected(
        text,
        4,
        "params.lr.hgih",
        "unknown key (allowed here: type, low, high, log, step, when)",
    );
    assert!(matches!(error, SpaceError::UnknownKey { .. }));
    let text = "[params.lr]\ntpye = \"float\"\nlow = 0.1\nhigh = 1.0\n";
    rejected(
        text,
        2,
        "params.lr.tpye",
        "allowed here: type, low, high, log, step, choices, when",
    );
    let text = "[params.opt]\nchoices = [1, 2]\nlow = 1\n";
    rejected(
        text,
        3,
        "params.opt.low",
        "allowed here: type, choices, when",
    );
    let text = "[param.lr]\ntype = \"float\"\n";
    rejected(text, 1, "param", "allowed here: params, stages");
    let text = "[stages]\ncount = 2\ntemplates = {}\n";
    rejected(
        text,
        3,
        "stages.templates",
        "allowed here: count, template, blocks",
    );
    let text = "[stages]\ncount = { low = 1, hihg = 3 }\n";
    rejected(text, 2, "stages.count.hihg", "allowed here: low, high");
}

#[test]
fn syntax_errors_name_file_and_line() {
    let text = "[params.lr]\ntype = \"float\nlow = 1\n";
    let error = parse(text).expect_err("invalid TOML");
    assert!(
        matches!(error, SpaceError::Syntax { line: 2, .. }),
        "{error:?}"
    );
    assert!(error
        .to_string()
        .starts_with(&format!("{FILE}:2: invalid TOML: ")));
    let text = "[params.lr]\ntype = \"float\"\nlow = 1\nlow = 2\n";
    let error = parse(text).expect_err("duplicate key");
    assert_eq!(
        error.to_string(),
        format!("{FILE}:4: invalid TOML: duplicate key")
    );
}

// ---- Conditions -----------------------------------------------------------------------------

const OPTIMIZER: &str = "[params.optimizer]\nchoices = [\"sgd\", \"adam\"]\n";

#[test]
fn unknown_parents_are_rejected() {
    let text = format!(
        "{OPTIMIZER}[params.momentum]\nchoices = [0.0, 0.9]\nwhen = {{ optimzer = [\"sgd\"] }}\n"
    );
    let error = rejected(
        &text,
        5,
        "params.momentum.when.optimzer",
        "unknown parameter `optimzer`",
    );
    assert!(matches!(error, SpaceError::UnknownParent { .. }));
}

#[test]
fn conditions_on_impossible_values_are_rejected() {
    let text = format!(
        "{OPTIMIZER}[params.momentum]\nchoices = [0.9]\n\
         when = {{ optimizer = [\"sgd\", \"rmsprop\"] }}\n"
    );
    let error = rejected(
        &text,
        5,
        "params.momentum.when.optimizer",
        "`optimizer` never takes the value \"rmsprop\"",
    );
    assert!(matches!(error, SpaceError::ImpossibleValue { .. }));
    let text =
        format!("{NUM_STAGES}[params.w]\nchoices = [8]\nwhen = {{ num_stages = [2.0, 3] }}\n");
    assert!(
        parse(&text).is_ok(),
        "numbers compare by value: 2.0 is the int 2"
    );
    let text =
        format!("{OPTIMIZER}[params.momentum]\nchoices = [0.9]\nwhen = {{ optimizer = [] }}\n");
    rejected(
        &text,
        5,
        "params.momentum.when.optimizer",
        "no accepted values",
    );
}

const NUM_STAGES: &str = "[params.num_stages]\ntype = \"int\"\nlow = 1\nhigh = 4\n";

#[test]
fn comparisons_no_value_satisfies_are_rejected() {
    let text =
        format!("{NUM_STAGES}[params.w5]\nchoices = [8]\nwhen = {{ num_stages = \"> 4\" }}\n");
    let error = rejected(
        &text,
        7,
        "params.w5.when.num_stages",
        "no value of `num_stages` is > 4",
    );
    assert!(matches!(error, SpaceError::ImpossibleComparison { .. }));
    let text =
        format!("{NUM_STAGES}[params.w0]\nchoices = [8]\nwhen = {{ num_stages = \"< 1\" }}\n");
    rejected(&text, 7, "params.w0.when.num_stages", "is < 1");
    let text =
        format!("{NUM_STAGES}[params.w]\nchoices = [8]\nwhen = {{ num_stages = \"> two\" }}\n");
    let error = rejected(
        &text,
        7,
        "params.w.when.num_stages",
        "\"> two\" is not a comparison",
    );
    assert!(matches!(error, SpaceError::BadComparison { .. }));
}

#[test]
fn string_parents_cannot_be_compared() {
    let text = format!(
        "{OPTIMIZER}[params.momentum]\nchoices = [0.9]\nwhen = {{ optimizer = \">= 1\" }}\n"
    );
    let error = rejected(
        &text,
        5,
        "params.momentum.when.optimizer",
        "`optimizer` is not numeric",
    );
    assert!(matches!(error, SpaceError::NotNumeric { .. }));
}

#[test]
fn cycles_are_named() {
    let text = "[params.a]\nchoices = [1, 2]\nwhen = { b = 1 }\n\
                [params.b]\nchoices = [1, 2]\nwhen = { a = 2 }\n";
    let error = rejected(
        text,
        3,
        "params.a.when.b",
        "conditions form a cycle: a -> b -> a",
    );
    assert!(matches!(error, SpaceError::Cycle { .. }));
    let text = "[params.c]\nchoices = [1]\n[params.a]\nchoices = [1]\nwhen = { c = 1, a = 1 }\n";
    rejected(text, 5, "params.a.when.a", "cycle: a -> a");
    // A parameter hanging off a cycle is not part of it.
    let text = "[params.z]\nchoices = [1]\nwhen = { x = 1 }\n\
                [params.x]\nchoices = [1]\nwhen = { y = 1 }\n\
                [params.y]\nchoices = [1]\nwhen = { x = 1 }\n";
    rejected(text, 6, "params.x.when.y", "cycle: x -> y -> x");
}

#[test]
fn duplicate_names_after_expansion_are_rejected() {
    let text = "[params.\"stage1.width\"]\nchoices = [8]\n\n[stages]\ncount = 2\n\
                [stages.template.width]\nchoices = [16, 32]\n";
    let error = rejected(
        text,
        6,
        "stages.template.width",
        "parameter `stage1.width` is defined twice (first by `params.\"stage1.width\"` (line 1))",
    );
    assert!(matches!(error, SpaceError::DuplicateParam { .. }));
    let text = format!("{NUM_STAGES}[stages]\ncount = {{ low = 1, high = 3 }}\n");
    rejected(
        &text,
        6,
        "stages.count",
        "parameter `num_stages` is defined twice",
    );
}

#[test]
fn conditions_on_stepped_floats_hold_for_the_values_sampled() {
    // Samplers produce `low + k * step`, which is 0.30000000000000004 here, not 0.3.
    let grid_value = ParamValue::Float(0.1 + 0.2);
    assert_ne!(grid_value, ParamValue::Float(0.3), "`==` stays exact");
    let x = "[params.x]\ntype = \"float\"\nlow = 0.0\nhigh = 1.0\nstep = 0.1\n";
    let space = parse_ok(&format!(
        "{x}[params.y]\ntype = \"int\"\nlow = 1\nhigh = 4\nwhen = {{ x = [0.3] }}\n"
    ));
    assert!(active(&space, "y", &config(&[("x", grid_value.clone())])));
    assert!(!active(&space, "y", &config(&[("x", 0.4.into())])));
    let y = space.index_of("y").expect("y");
    let mut values = vec![None; space.len()];
    values[space.index_of("x").expect("x")] = Some(grid_value.clone());
    assert!(space.is_active_with(y, &values));
    // Counting finds the branch: 10 other values of x, and x = 0.3 with 4 values of y.
    assert_eq!(space.count_configurations(), Some(10 + 4));
    // The equality part of a comparison allows for rounding too.
    let at_most = parse_ok(&format!(
        "{x}[params.y]\ntype = \"int\"\nlow = 1\nhigh = 4\nwhen = {{ x = \"<= 0.3\" }}\n"
    ));
    assert!(active(&at_most, "y", &config(&[("x", grid_value.clone())])));
    assert_eq!(at_most.count_configurations(), Some(7 + 4 * 4));
    let above = parse_ok(&format!(
        "{x}[params.y]\ntype = \"int\"\nlow = 1\nhigh = 4\nwhen = {{ x = \"> 0.3\" }}\n"
    ));
    assert!(!active(&above, "y", &config(&[("x", grid_value)])));
    assert_eq!(above.count_configurations(), Some(4 + 7 * 4));
}

#[test]
fn approximate_equality_allows_for_rounding_but_not_for_ints() {
    let near = |a: ParamValue, b: ParamValue| a.approx_eq(&b) && b.approx_eq(&a);
    assert!(near(ParamValue::Float(0.1 + 0.2), ParamValue::Float(0.3)));
    assert!(!near(ParamValue::Float(0.1 + 0.2), ParamValue::Int(0)));
    assert!(near(
        ParamValue::Float(3.0000000000000004),
        ParamValue::Int(3)
    ));
    assert!(near(ParamValue::Int(3), ParamValue::Float(3.0)));
    assert!(!near(ParamValue::Float(0.3), ParamValue::Float(0.3001)));
    assert!(!near(
        ParamValue::Int(1_000_000_000_001),
        ParamValue::Int(1_000_000_000_000)
    ));
    assert!(!near(
        ParamValue::Int(1_000_000_000_001),
        ParamValue::Float(1e12)
    ));
    assert!(near("sgd".into(), "sgd".into()));
    assert!(!near(true.into(), 1.into()));
    assert!(!near(
        ParamValue::Float(f64::NAN),
        ParamValue::Float(f64::NAN)
    ));
}

// ---- The flat form --------------------------------------------------------------------------

#[test]
fn flat_example_makes_momentum_conditional_on_sgd() {
    let space = load(FLAT_EXAMPLE);
    assert_eq!(
        names(&space),
        ["lr", "optimizer", "momentum", "sgd_schedule", "step_gamma"]
    );
    assert_eq!(
        conditions(&space, "momentum"),
        [Condition::In {
            parent: "optimizer".into(),
            values: vec!["sgd".into()],
        }]
    );
    let sgd = config(&[("lr", 0.1.into()), ("optimizer", "sgd".into())]);
    let adam = config(&[("lr", 0.1.into()), ("optimizer", "adam".into())]);
    assert!(active(&space, "momentum", &sgd));
    assert!(!active(&space, "momentum", &adam));
    assert!(space.check_config(&adam).is_ok());
    assert!(space.check_config(&sgd).is_err(), "momentum is missing");
    let mut with_momentum = adam.clone();
    with_momentum.insert("momentum".into(), 0.9.into());
    assert!(
        space.check_config(&with_momentum).is_err(),
        "momentum is inactive for adam"
    );
    assert_eq!(space.count_configurations(), None);
}

#[test]
fn nested_conditions_need_every_ancestor() {
    let space = load(FLAT_EXAMPLE);
    let full = config(&[
        ("lr", 0.01.into()),
        ("optimizer", "sgd".into()),
        ("momentum", 0.9.into()),
        ("sgd_schedule", "step".into()),
        ("step_gamma", 0.5.into()),
    ]);
    assert!(space.check_config(&full).is_ok());
    let mut cosine = full.clone();
    cosine.insert("sgd_schedule".into(), "cosine".into());
    assert!(!active(&space, "step_gamma", &cosine));
    let adam = config(&[("lr", 0.01.into()), ("optimizer", "adam".into())]);
    assert!(!active(&space, "sgd_schedule", &adam));
    assert!(!active(&space, "step_gamma", &adam));
}

#[test]
fn children_declared_first_are_reordered_after_their_parents() {
    let text = "[params.momentum]\nchoices = [0.9]\nwhen = { optimizer = \"sgd\" }\n\
                [params.lr]\ntype = \"float\"\nlow = 0.1\nhigh = 1.0\n\
                [params.optimizer]\nchoices = [\"sgd\", \"adam\"]\n";
    assert_eq!(names(&parse_ok(text)), ["lr", "optimizer", "momentum"]);
}

#[test]
fn single_values_comparisons_and_dotted_parents_in_when() {
    let text = format!(
        "{NUM_STAGES}[params.arch.head]\nchoices = [true, false]\n\
         [params.arch.width]\nchoices = [64, 128]\n\
         when = {{ arch.head = true, num_stages = \">= 3\" }}\n"
    );
    let space = parse_ok(&text);
    assert_eq!(
        conditions(&space, "arch.width"),
        [
            Condition::In {
                parent: "arch.head".into(),
                values: vec![true.into()],
            },
            Condition::Compare {
                parent: "num_stages".into(),
                op: Comparison::Ge,
                value: 3.0,
            },
        ]
    );
    let with = |n: i64, head: bool| config(&[("num_stages", n.into()), ("arch.head", head.into())]);
    assert!(active(&space, "arch.width", &with(3, true)));
    assert!(!active(&space, "arch.width", &with(2, true)));
    assert!(!active(&space, "arch.width", &with(4, false)));
    // No head: 4 stage counts; a head: 2 stage counts without width, 2 with 2 widths.
    assert_eq!(space.count_configurations(), Some(4 + 2 + 2 * 2));
}

#[test]
fn numeric_stage_conditions() {
    let stage = |i: usize| {
        format!(
            "[params.stage{i}_width]\nchoices = [8, 16]\nwhen = {{ num_stages = \"> {}\" }}\n",
            i - 1
        )
    };
    let text = format!("{NUM_STAGES}{}{}{}", stage(2), stage(3), stage(4));
    let space = parse_ok(&text);
    let n = |k: i64| config(&[("num_stages", k.into())]);
    assert!(active(&space, "stage2_width", &n(2)));
    assert!(!active(&space, "stage3_width", &n(2)));
    assert!(active(&space, "stage4_width", &n(4)));
    // 1 + 2 + 4 + 8 configurations for 1 to 4 stages.
    assert_eq!(space.count_configurations(), Some(15));
}

// ---- The stage template ---------------------------------------------------------------------

const STAGES: &str = r#"
[stages]
count = { low = 1, high = 3 }

[stages.template.block]
choices = ["plain", "ir"]

[stages.template.width]
type = "int"
low = 8
high = 32
step = 8

[stages.blocks.ir.expansion]
choices = [1, 6]

[stages.blocks.ir.se]
choices = [true, false]

[stages.blocks.ir.se_ratio]
choices = [0.25]
when = { se = true }
"#;

#[test]
fn stage_template_expands_per_stage() {
    let space = parse_ok(STAGES);
    let mut expected = vec!["num_stages".to_owned()];
    for i in 1..=3 {
        for key in ["block", "width", "ir.expansion", "ir.se", "ir.se_ratio"] {
            expected.push(format!("stage{i}.{key}"));
        }
    }
    assert_eq!(names(&space), expected);
    assert_eq!(
        space.params()[0].distribution,
        Distribution::Int {
            low: 1,
            high: 3,
            log: false,
            step: 1
        }
    );
}

#[test]
fn stage_template_conditions() {
    let space = parse_ok(STAGES);
    assert!(
        conditions(&space, "stage1.width").is_empty(),
        "stage 1 always exists"
    );
    assert_eq!(
        conditions(&space, "stage2.width"),
        [Condition::Compare {
            parent: "num_stages".into(),
            op: Comparison::Ge,
            value: 2.0,
        }]
    );
    assert_eq!(
        conditions(&space, "stage3.ir.expansion"),
        [Condition::In {
            parent: "stage3.block".into(),
            values: vec!["ir".into()],
        }]
    );
    assert_eq!(
        conditions(&space, "stage2.ir.se_ratio")[1],
        Condition::In {
            parent: "stage2.ir.se".into(),
            values: vec![true.into()],
        }
    );
    let cfg = config(&[
        ("num_stages", 2.into()),
        ("stage1.block", "plain".into()),
        ("stage1.width", 8.into()),
        ("stage2.block", "ir".into()),
        ("stage2.width", 32.into()),
        ("stage2.ir.expansion", 6.into()),
        ("stage2.ir.se", false.into()),
    ]);
    assert!(space.check_config(&cfg).is_ok());
    // Per stage: plain 1 + ir (2 × (1 + 1)) = 5 blocks × 4 widths = 20.
    assert_eq!(
        space.count_configurations(),
        Some(20 + 20 * 20 + 20 * 20 * 20)
    );
}

#[test]
fn fixed_stage_count_makes_no_num_stages() {
    let text = "[stages]\ncount = 2\n[stages.template.width]\nchoices = [8, 16]\n";
    let space = parse_ok(text);
    assert_eq!(names(&space), ["stage1.width", "stage2.width"]);
    assert!(conditions(&space, "stage2.width").is_empty());
}

#[test]
fn template_errors_point_into_the_template() {
    let text = "[stages]\ncount = 2\n[stages.template.width]\ntype = \"int\"\nlow = 64\nhigh = 8\n";
    rejected(
        text,
        5,
        "stages.template.width.low",
        "low (64) must be < high (8)",
    );
    let text = "[stages]\ncount = 2\n[stages.template.block]\nchoices = [\"a\"]\n\
                [stages.blocks.a.k]\nchoices = [3]\nwhen = { kk = true }\n";
    rejected(
        text,
        7,
        "stages.blocks.a.k.when.kk",
        "unknown parameter `kk`",
    );
}

#[test]
fn stage_blocks_must_be_block_choices() {
    let text = "[stages]\ncount = 2\n[stages.template.block]\nchoices = [\"plain\", \"ir\"]\n\
                [stages.blocks.inverted.k]\nchoices = [3]\n";
    rejected(
        text,
        5,
        "stages.blocks.inverted",
        "unknown key (allowed here: plain, ir)",
    );
    let text = "[stages]\ncount = 2\n[stages.blocks.ir.k]\nchoices = [3]\n";
    rejected(text, 3, "stages.template.block", "needs a `block` template");
    let text = "[stages]\ncount = 2\n[stages.template.block]\nchoices = [1, 2]\n\
                [stages.blocks.ir.k]\nchoices = [3]\n";
    rejected(
        text,
        3,
        "stages.template.block",
        "expected a categorical parameter with string choices",
    );
}

#[test]
fn stage_count_is_bounded() {
    let text = "[stages]\ncount = { low = 1, high = 1000000 }\n";
    let error = rejected(text, 2, "stages.count", "must lie in 0..=64");
    assert!(matches!(error, SpaceError::StageCount { .. }));
    let text = "[stages]\ncount = { low = 3, high = 2 }\n";
    rejected(text, 2, "stages.count.low", "low (3) must be < high (2)");
    let text = "[stages]\n";
    rejected(text, 1, "stages.count", "needs `count`");
}

// ---- Shipped spaces -------------------------------------------------------------------------

#[test]
fn lightweight_space_parses() {
    let space = load(LIGHTWEIGHT);
    for name in [
        "arch.stem_width",
        "num_stages",
        "stage4.inverted_residual.se_ratio",
        "stage2.bottleneck.reduction",
        "arch.head_width",
        "sgd.nesterov",
        "adamw.weight_decay",
        "batch_size",
    ] {
        assert!(space.index_of(name).is_some(), "no `{name}`");
    }
    assert_eq!(
        space.params()[0].name,
        "arch.stem_width",
        "file order is kept"
    );
    assert_eq!(space.count_configurations(), None, "lr is continuous");
}

#[test]
fn lightweight_architecture_count() {
    let space = load(LIGHTWEIGHT);
    // Block types: vanilla 2 kernels; bottleneck 2 reductions × 2 kernels; inverted residual
    // 3 expansions × 3 kernels × 3 activations × (SE with 2 ratios, or none).
    let blocks: u128 = 2 + 2 * 2 + 3 * 3 * 3 * (2 + 1);
    let stage = blocks * 16 * 3 * 2; // × widths × depths × strides
    let stages: u128 = (1..=4).map(|k| stage.pow(k)).sum();
    let stem_head = 8 * (4 + 1) * 6; // stem widths × (head widths or no head conv) × dropouts
    assert_eq!(count_architectures(&space), Some(stem_head * stages));
}

#[test]
fn deep_stage_spaces_count_in_one_sweep() {
    // 64 stages would be 8352^64 block combinations to enumerate; the sweep keeps a few hundred
    // running totals instead.
    let text = std::fs::read_to_string(LIGHTWEIGHT)
        .expect("readable")
        .replace(
            "count = { low = 1, high = 4 }",
            "count = { low = 1, high = 64 }",
        );
    let space = parse_ok(&text);
    assert_eq!(
        space
            .index_of("stage64.inverted_residual.se_ratio")
            .map(|_| ()),
        Some(())
    );
    assert_eq!(
        count_configurations_of(&space, is_architecture_param),
        Some(u128::MAX)
    );
}

// ---- Counting -------------------------------------------------------------------------------

fn categorical(name: &str, choices: &[ParamValue], conditions: Vec<Condition>) -> Param {
    Param {
        name: name.into(),
        distribution: Distribution::Categorical {
            choices: choices.to_vec(),
        },
        conditions,
    }
}

fn when(parent: &str, values: &[ParamValue]) -> Vec<Condition> {
    vec![Condition::In {
        parent: parent.into(),
        values: values.to_vec(),
    }]
}

#[test]
fn counts_only_active_parameters() {
    let space = SearchSpace::new(vec![
        categorical("optimizer", &["sgd".into(), "adam".into()], vec![]),
        categorical(
            "momentum",
            &[0.0.into(), 0.5.into(), 0.9.into()],
            when("optimizer", &["sgd".into()]),
        ),
    ])
    .expect("valid space");
    assert_eq!(space.count_configurations(), Some(3 + 1));
}

#[test]
fn counts_nested_conditions() {
    let space = SearchSpace::new(vec![
        categorical("a", &["x".into(), "y".into()], vec![]),
        categorical(
            "b",
            &[1.into(), 2.into(), 3.into()],
            when("a", &["x".into()]),
        ),
        categorical("c", &[true.into(), false.into()], when("b", &[3.into()])),
    ])
    .expect("valid space");
    // a = y: 1; a = x: b in {1, 2} gives 2, b = 3 gives 2 values of c.
    assert_eq!(space.count_configurations(), Some(1 + 2 + 2));
}

#[test]
fn counts_skip_parameters_that_are_never_active() {
    let text = "[params.x]\ntype = \"int\"\nlow = 1\nhigh = 4\n\
                [params.y]\nchoices = [\"a\", \"b\"]\nwhen = { x = \"<= 2\" }\n\
                [params.z]\ntype = \"float\"\nlow = 0.0\nhigh = 1.0\n\
                when = { y = \"a\", x = \">= 3\" }\n";
    // z needs x <= 2 (for y) and x >= 3: never active, so its continuous range does not matter.
    assert_eq!(parse_ok(text).count_configurations(), Some(2 * 2 + 2));
}

/// Counts configurations by listing them all, for small discrete spaces.
fn enumerate(space: &SearchSpace, i: usize, config: &mut Config) -> u128 {
    let Some(param) = space.params().get(i) else {
        return 1;
    };
    if !space.is_active(i, config) {
        return enumerate(space, i + 1, config);
    }
    let values: Vec<ParamValue> = match &param.distribution {
        Distribution::Categorical { choices } => choices.clone(),
        Distribution::Int {
            low, high, step, ..
        } => (*low..=*high)
            .step_by(*step as usize)
            .map(ParamValue::Int)
            .collect(),
        Distribution::Float { low, step, .. } => {
            let n = param.distribution.cardinality().expect("discrete");
            (0..n)
                .map(|k| ParamValue::Float(low + k as f64 * step.unwrap_or(0.0)))
                .collect()
        }
    };
    let mut total = 0;
    for value in values {
        config.insert(param.name.clone(), value);
        total += enumerate(space, i + 1, config);
    }
    config.remove(&param.name);
    total
}

#[test]
fn counts_match_enumeration() {
    let mixed = r#"
        [params.x]
        type = "int"
        low = 0
        high = 10
        step = 2
        [params.y]
        choices = ["a", "b"]
        when = { x = [2, 4, 8] }
        [params.z]
        type = "float"
        low = 0.0
        high = 1.0
        step = 0.25
        when = { x = "> 5" }
        [params.w]
        choices = [1, 2, 3]
        when = { y = "a", z = "<= 0.5" }
        [params.v]
        choices = [true, false]
        when = { x = ">= 4", w = [1, 3] }
    "#;
    for text in [STAGES, mixed] {
        let space = parse_ok(text);
        let listed = enumerate(&space, 0, &mut Config::new());
        assert_eq!(space.count_configurations(), Some(listed));
    }
}

#[test]
fn counts_are_none_for_continuous_spaces() {
    let text = "[params.lr]\ntype = \"float\"\nlow = 0.1\nhigh = 1.0\n";
    assert_eq!(parse_ok(text).count_configurations(), None);
    let text = "[params.lr]\ntype = \"float\"\nlow = 0.1\nhigh = 1.0\nstep = 0.1\n";
    assert_eq!(parse_ok(text).count_configurations(), Some(10));
}

#[test]
fn counts_saturate() {
    let wide = "type = \"int\"\nlow = 0\nhigh = 9000000000000000\n";
    let text: String = ["a", "b", "c", "d", "e"]
        .map(|name| format!("[params.{name}]\n{wide}"))
        .concat();
    assert_eq!(parse_ok(&text).count_configurations(), Some(u128::MAX));
}

#[test]
fn filtered_counts_ignore_other_parameters() {
    let text = "[params.optimizer]\nchoices = [\"sgd\", \"adam\", \"adamw\"]\n\
                [params.momentum]\nchoices = [0.0, 0.9]\nwhen = { optimizer = \"sgd\" }\n\
                [params.lr]\ntype = \"float\"\nlow = 0.1\nhigh = 1.0\n\
                [params.arch.depth]\nchoices = [1, 2, 3]\n\
                [params.arch.dropout]\nchoices = [0.0, 0.5]\nwhen = { optimizer = \"sgd\" }\n";
    let space = parse_ok(text);
    // The optimizer only matters through arch.dropout: with SGD 3 × 2 architectures, otherwise 3.
    assert_eq!(
        count_configurations_of(&space, is_architecture_param),
        Some(3 * 2 + 3)
    );
    let training = count_configurations_of(&space, |n| n == "optimizer" || n == "momentum");
    assert_eq!(training, Some(2 + 1 + 1));
    assert_eq!(count_configurations_of(&space, |_| false), Some(1));
}

// ---- Spaces built in code -------------------------------------------------------------------

#[test]
fn spaces_built_in_code_are_validated_without_lines() {
    let lr = Param {
        name: "lr".into(),
        distribution: Distribution::Float {
            low: 1.0,
            high: 0.5,
            log: false,
            step: None,
        },
        conditions: vec![],
    };
    let error = SearchSpace::new(vec![lr]).expect_err("empty range");
    assert_eq!(
        error.to_string(),
        "<memory>: key `lr.low`: low (1) must be < high (0.5)"
    );
    let momentum = categorical(
        "momentum",
        &[0.9.into()],
        when("optimizer", &["sgd".into()]),
    );
    let error = SearchSpace::new(vec![momentum]).expect_err("unknown parent");
    assert_eq!(
        error.to_string(),
        "<memory>: key `momentum.when.optimizer`: unknown parameter `optimizer`"
    );
}

#[test]
fn spaces_built_in_code_are_ordered_parents_first_and_stably() {
    let space = SearchSpace::new(vec![
        categorical("c", &[1.into()], when("b", &[1.into()])),
        categorical("x", &[1.into()], vec![]),
        categorical("b", &[1.into()], when("a", &[1.into()])),
        categorical("a", &[1.into()], vec![]),
        categorical("y", &[1.into()], vec![]),
    ])
    .expect("valid space");
    assert_eq!(names(&space), ["x", "a", "b", "c", "y"]);
    let error = SearchSpace::new(vec![
        categorical("a", &[1.into()], when("b", &[1.into()])),
        categorical("b", &[1.into()], when("a", &[1.into()])),
    ])
    .expect_err("cycle");
    assert!(matches!(error, SpaceError::Cycle { ref cycle, .. } if cycle == &["a", "b", "a"]));
}

// ---- Serialisation --------------------------------------------------------------------------

#[test]
fn spaces_round_trip_through_json_with_working_lookups() {
    let space = parse_ok(&format!(
        "{OPTIMIZER}[params.momentum]\nchoices = [0.0, 0.9]\nwhen = {{ optimizer = [\"sgd\"] }}\n"
    ));
    let json = serde_json::to_string(&space).expect("serialisable");
    assert!(
        json.starts_with('['),
        "a space serialises as its parameters: {json}"
    );
    let back: SearchSpace = serde_json::from_str(&json).expect("deserialisable");
    assert_eq!(back, space);
    let momentum = back.index_of("momentum").expect("lookups are rebuilt");
    let optimizer = back.index_of("optimizer").expect("lookups are rebuilt");
    assert_eq!(back.parents_of(momentum), [optimizer]);
    let mut values = vec![None; back.len()];
    values[optimizer] = Some(ParamValue::from("sgd"));
    assert!(back.is_active_with(momentum, &values));
    values[optimizer] = Some(ParamValue::from("adam"));
    assert!(!back.is_active_with(momentum, &values));
}

#[test]
fn deserialising_validates_and_orders_the_parameters() {
    // Plain parameter lists serialise without checks, so they can hold anything.
    let child = categorical("b", &[1.into()], when("a", &[1.into()]));
    let json = serde_json::to_string(&vec![child.clone(), categorical("a", &[1.into()], vec![])])
        .expect("serialisable");
    let space: SearchSpace = serde_json::from_str(&json).expect("a valid space");
    assert_eq!(names(&space), ["a", "b"]);
    let json = serde_json::to_string(&vec![child]).expect("serialisable");
    let error = serde_json::from_str::<SearchSpace>(&json).expect_err("unknown parent");
    assert!(
        error.to_string().contains("unknown parameter `a`"),
        "{error}"
    );
}

// ---- Robustness -----------------------------------------------------------------------------

/// Every error about a file names it.
#[track_caller]
fn must_not_panic(text: &str) {
    if let Err(error) = parse(text) {
        assert!(error.to_string().starts_with(FILE), "{error}");
    }
}

#[test]
fn malformed_inputs_are_errors_not_panics() {
    let cases = [
        "",
        "[params]",
        "params = []",
        "[[params]]\nx = 1",
        "[params.x]",
        "[params.x]\nchoices = \"abc\"",
        "[params.x]\nwhen = 3\nchoices = [1]",
        "[params.x]\nchoices = [1]\nwhen = { y = { z = [] } }",
        "[params.x]\nchoices = [1]\nwhen = { x = 1979-05-27 }",
        "[params.x]\ntype = 3",
        "[params.x]\ntype = \"int\"\nlow = 9223372036854775807\nhigh = -9223372036854775808",
        "[params.x]\ntype = \"float\"\nlow = -1e308\nhigh = 1e308\nstep = 1e-308",
        "[params.x]\ntype = \"float\"\nlow = 0.0\nhigh = inf",
        "[stages]\ncount = -1",
        "[stages]\ncount = 64\n[stages.template.w]\nchoices = [1]",
        "[stages]\ncount = \"4\"",
        "[stages]\ncount = 2\ntemplate = 1",
        "[stages]\ncount = 2\n[stages.blocks]\nx = 1",
        "[stages]\ncount = 2\n[stages.template.block]\nchoices = [\"a\"]\n[stages.blocks]\na = 1",
        "stages = 1",
        "[params.x]\nchoices = [1]\nwhen = { \"\" = 1 }",
        "\u{feff}[params.é]\nchoices = [\"ü\"]",
    ];
    for text in cases {
        must_not_panic(text);
    }
}

#[test]
fn mangled_shipped_spaces_are_errors_not_panics() {
    let text = std::fs::read_to_string(LIGHTWEIGHT).expect("readable");
    let lines: Vec<&str> = text.lines().collect();
    for skip in 0..lines.len() {
        let mut mangled = lines.clone();
        mangled.remove(skip);
        must_not_panic(&mangled.join("\n"));
    }
    for end in (0..text.len())
        .step_by(37)
        .filter(|&i| text.is_char_boundary(i))
    {
        must_not_panic(&text[..end]);
    }
    // Overwrite bytes with characters that matter to TOML, deterministically.
    let mut seed = 0x2545_f491_4f6c_dd1d_u64;
    for _ in 0..300 {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let mut bytes = text.clone().into_bytes();
        let at = (seed % bytes.len() as u64) as usize;
        bytes[at] = b"=[]{}\",.0-<> \n#x"[(seed >> 32) as usize % 16];
        must_not_panic(&String::from_utf8_lossy(&bytes));
    }
}

#[test]
fn equality_on_a_continuous_parent_is_rejected() {
    let text = "[params.lr]\ntype = \"float\"\nlow = 0.001\nhigh = 0.1\n\
                [params.warmup]\nchoices = [0, 1]\nwhen = { lr = 0.01 }\n";
    let error = rejected(text, 7, "params.warmup.when.lr", "is continuous");
    assert!(matches!(error, SpaceError::EqualityOnContinuous { .. }));
    // A comparison on the same parent is fine.
    let text = "[params.lr]\ntype = \"float\"\nlow = 0.001\nhigh = 0.1\n\
                [params.warmup]\nchoices = [0, 1]\nwhen = { lr = \"> 0.01\" }\n";
    parse_ok(text);
}
