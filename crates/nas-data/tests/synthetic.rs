//! The squares dataset: balanced classes, each square where its class says.

use nas_data::{squares, SQUARES_SIZE};

#[test]
fn squares_are_balanced_and_bright_where_their_class_says() {
    let data = squares(7, 3);
    assert_eq!(data.len(), 70);
    assert_eq!(data.class_counts(), vec![7; 10]);
    assert_eq!((data.height(), data.width()), (SQUARES_SIZE, SQUARES_SIZE));
    for i in 0..data.len() {
        let class = data.label(i) as usize;
        let (cy, cx) = if class == 9 {
            (2, 2)
        } else {
            (class / 3 * 4, class % 3 * 4)
        };
        let image = data.image(i);
        let at = |y: usize, x: usize| image[y * SQUARES_SIZE + x];
        assert!(at(cy + 1, cx + 2) >= 200, "image {i} of class {class}");
        let outside = if class == 4 || class == 9 {
            (0, 0)
        } else {
            (5, 5)
        };
        assert!(
            at(outside.0, outside.1) < 64,
            "image {i}: only noise outside"
        );
        if class == 9 {
            assert!(
                at(2, 2) >= 200 && at(6, 6) < 64,
                "class 9 differs from class 4"
            );
        }
    }
    assert_eq!(squares(7, 3), data, "same seed, same images");
    assert_ne!(squares(7, 4).pixels(), data.pixels());
}
