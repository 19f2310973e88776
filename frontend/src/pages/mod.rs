pub mod login;
pub mod overview;
pub mod placeholder;
pub mod resources;
pub mod sites;
