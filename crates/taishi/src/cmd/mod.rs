pub mod audit;
pub mod hunt;
pub mod intel;
pub mod openapi;
pub mod parse;
pub mod rules;
pub mod search;
pub mod serve;
