//! `nas space list`, `nas space check` and `nas space sample`.

use nas_core::sampler::{RandomSampler, SampleContext, Sampler};
use nas_core::space::{Condition, Distribution, SearchSpace};

use crate::load_space;

/// Prints the built-in spaces: name, parameters, architectures and what each holds.
pub fn list() -> anyhow::Result<()> {
    for builtin in nas_arch::BUILTIN_SPACES {
        let space = load_space(builtin.name)?;
        let default = if builtin.name == nas_arch::DEFAULT_SPACE {
            " [default]"
        } else {
            ""
        };
        println!(
            "{}{default}: {} parameters, {} architectures — {}",
            builtin.name,
            space.len(),
            count_text(nas_core::space::count_architectures(&space)),
            builtin.summary
        );
    }
    println!("(or give a TOML file: --space PATH; search_spaces/README.md has the schema)");
    Ok(())
}

/// Validates a space and prints its parameter tree and sizes.
pub fn check(name_or_path: &str) -> anyhow::Result<()> {
    let space = load_space(name_or_path)?;
    println!("{name_or_path}: valid, {} parameters", space.len());
    let children = children_of(&space);
    for root in (0..space.len()).filter(|&i| space.parents_of(i).is_empty()) {
        print_tree(&space, &children, root, 1);
    }
    println!(
        "configurations: {}",
        count_text(space.count_configurations())
    );
    let arch = nas_core::space::count_architectures(&space);
    println!("distinct architectures: {}", count_text(arch));
    Ok(())
}

/// Prints `count` configurations drawn uniformly at random, one JSON object per line.
pub fn sample(name_or_path: &str, count: usize, seed: u64) -> anyhow::Result<()> {
    let space = load_space(name_or_path)?;
    let mut sampler = RandomSampler::new(seed);
    for number in 0..count as u64 {
        let ctx = SampleContext {
            space: &space,
            directions: &[],
            trials: &[],
            number,
        };
        println!("{}", serde_json::to_string(&sampler.sample(&ctx)?)?);
    }
    Ok(())
}

fn count_text(n: Option<u128>) -> String {
    match n {
        Some(n) => n.to_string(),
        None => "infinite (continuous parameters)".into(),
    }
}

/// Each parameter listed under its last-declared parent.
fn children_of(space: &SearchSpace) -> Vec<Vec<usize>> {
    let mut children = vec![Vec::new(); space.len()];
    for i in 0..space.len() {
        if let Some(&parent) = space.parents_of(i).last() {
            children[parent].push(i);
        }
    }
    children
}

fn print_tree(space: &SearchSpace, children: &[Vec<usize>], i: usize, depth: usize) {
    let p = &space.params()[i];
    let when: Vec<String> = p.conditions.iter().map(describe_condition).collect();
    let when = if when.is_empty() {
        String::new()
    } else {
        format!("  when {}", when.join(" and "))
    };
    let name = format!("{}{}", "  ".repeat(depth), p.name);
    println!(
        "{name:<40} {}{when}",
        describe_distribution(&p.distribution)
    );
    for &c in &children[i] {
        print_tree(space, children, c, depth + 1);
    }
}

fn describe_distribution(d: &Distribution) -> String {
    match d {
        Distribution::Float {
            low,
            high,
            log,
            step,
        } => format!(
            "float [{low}, {high}]{}{}",
            if *log { " log" } else { "" },
            step.map(|s| format!(" step {s}")).unwrap_or_default()
        ),
        Distribution::Int {
            low,
            high,
            log,
            step,
        } => format!(
            "int [{low}, {high}]{}{}",
            if *log { " log" } else { "" },
            if *step != 1 {
                format!(" step {step}")
            } else {
                String::new()
            }
        ),
        Distribution::Categorical { choices } => {
            let c: Vec<String> = choices.iter().map(ToString::to_string).collect();
            format!("categorical {{{}}}", c.join(", "))
        }
    }
}

fn describe_condition(c: &Condition) -> String {
    match c {
        Condition::In { parent, values } => {
            let v: Vec<String> = values.iter().map(ToString::to_string).collect();
            format!("{parent} in {{{}}}", v.join(", "))
        }
        Condition::Compare { parent, op, value } => {
            let op = match op {
                nas_core::space::Comparison::Gt => ">",
                nas_core::space::Comparison::Ge => ">=",
                nas_core::space::Comparison::Lt => "<",
                nas_core::space::Comparison::Le => "<=",
            };
            format!("{parent} {op} {value}")
        }
    }
}
