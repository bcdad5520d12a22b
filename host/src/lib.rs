mod bindings;
pub mod http { pub struct HttpStream; }
