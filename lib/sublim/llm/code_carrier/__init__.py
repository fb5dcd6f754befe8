"""Code as the carrier (paper §4.1, Fig. 5): the preference teachers write code, filtered in three steps."""
