// Temporary: the target's first tests replace this file (issue 11 in progress).
