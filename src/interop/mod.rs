//! Interoperability with other tools' model formats. `hf`: Hugging Face
//! GPT-2 folders (`config.json`, `model.safetensors`, `tokenizer.json`).

pub mod cli;
pub mod hf;
pub mod mup;
