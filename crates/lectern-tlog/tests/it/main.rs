//! The formats against other implementations' published vectors, and the
//! witness's check worked through by hand.

mod note;
mod witness;
