pub mod hunt;
pub mod parse;
pub mod rules;
