//! [`trial_seed`]: the seed a trial runs with, derived from the search's seed and the trial's
//! number, so a search rerun with its seed gives every trial the seed it had.

/// The seed of trial `number` under the search seed `seed`: SplitMix64 of the pair, so
/// neighbouring trials get unrelated seeds.
pub fn trial_seed(seed: u64, number: u64) -> u64 {
    let mut z = seed ^ number.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::trial_seed;

    #[test]
    fn seeds_depend_on_the_search_seed_and_the_number() {
        assert_eq!(trial_seed(7, 3), trial_seed(7, 3));
        assert_ne!(trial_seed(7, 3), trial_seed(7, 4));
        assert_ne!(trial_seed(7, 3), trial_seed(8, 3));
    }
}
