"""Theorem 1 (paper §6.1, App. C): one small imitation step at a shared init moves the student toward the teacher."""
