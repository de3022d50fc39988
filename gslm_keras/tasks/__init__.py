"""What a model is trained for, over the one backbone: the supervised task types
(binary, multiclass, multilabel, regression) as one table, and the masked
language model's objective."""
