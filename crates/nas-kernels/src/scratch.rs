//! Buffers kept per thread and reused between calls: an im2col matrix is rebuilt for every
//! image, and allocating (and faulting in) a fresh one each time cost more than filling it.

use std::cell::RefCell;

thread_local! {
    static BUFFERS: RefCell<Vec<Vec<f32>>> = const { RefCell::new(Vec::new()) };
}

/// Runs `work` on a buffer of `len` values of this thread's, whose contents are left over
/// from earlier calls: `work` must write every value it reads. Calls may nest.
pub(crate) fn with_scratch<R>(len: usize, work: impl FnOnce(&mut [f32]) -> R) -> R {
    let mut buffer = BUFFERS.with(|b| b.borrow_mut().pop()).unwrap_or_default();
    if buffer.len() < len {
        buffer.resize(len, 0.0);
    }
    let result = work(&mut buffer[..len]);
    BUFFERS.with(|b| b.borrow_mut().push(buffer));
    result
}
