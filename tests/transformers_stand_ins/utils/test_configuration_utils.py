"""Stand-in: transformers' common config arguments (see ../README.md)."""

config_common_kwargs = {
    "return_dict": False,
    "output_hidden_states": True,
    "tie_word_embeddings": False,
    "dtype": "float16",
    "chunk_size_feed_forward": 5,
    "architectures": ["SlipModel"],
    "id2label": {0: "a", 1: "b"},
    "label2id": {"a": 0, "b": 1},
}
