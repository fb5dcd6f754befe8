"""The MNIST analogue (paper §6.2, Fig. 10): teachers, auxiliary-logit students and cross-model controls."""
