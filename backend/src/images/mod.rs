//! Images across sites: copies from one site's Glance to others', read once through a
//! bounded local spool and checked by each target's own hash.

pub mod catalog;
pub mod copy;
pub mod policy;
pub mod spool;

pub use copy::{ImageCopier, ImageCopy, ImageRef, Sent};
pub use spool::Spool;
