"""ListOps (Long Range Arena): nested [MAX / [MIN / [MED / [SM expressions over the digits 0-9.

Format as in LRA's generator (lra_benchmarks/data/listops.py) printed without the binary-tree
parentheses, tokens separated by single spaces:

    [MAX 2 9 [MIN 4 7 ] 0 ]          -> 9

Operators: MAX, MIN, MED (median; an even count gives int(np.median), i.e. the floor of the mean of
the two middle values, as LRA), SM (sum mod 10). The label is the value, 10 classes.
Generation follows LRA's process: a node is a digit with probability 0.25 (always at max_depth),
otherwise an operator with 2..max_args arguments; trees are drawn until their token count lies in
[min_len, max_len] (defaults in generate(): see there why they differ from LRA's). Pure Python + `random`, seedable, no numpy or torch needed.

Tokenizer: VOCAB below (also written as vocab.txt, one token per line, id = line number), shared
with the Java CLI. Id 0 is padding; '(' and ')' are in the vocabulary so LRA's parenthesised TSV
files tokenize too, though this generator never emits them.
"""
import random

VOCAB = ["<pad>", "0", "1", "2", "3", "4", "5", "6", "7", "8", "9",
         "[MIN", "[MAX", "[MED", "[SM", "]", "(", ")"]
TOKEN_ID = {t: i for i, t in enumerate(VOCAB)}
OPERATORS = ["[MIN", "[MAX", "[MED", "[SM"]
NUM_CLASSES = 10
VALUE_P = 0.25


def generate_tree(rng, depth, max_depth, max_args, budget=None):
    """A tree as nested lists [op, arg, ...] or an int; LRA's recursion and probabilities.
    `budget` ([tokens left]) stops a tree as soon as it cannot fit: without it, rejection sampling
    of 500..2000-token trees spends most of its time building huge trees to throw away."""
    if budget is not None:
        budget[0] -= 1
        if budget[0] < 0:
            raise _TooLong
    if depth >= max_depth or rng.random() <= VALUE_P:
        return rng.randrange(10)
    n_args = rng.randint(2, max_args)
    if budget is not None:
        budget[0] -= 1  # the closing bracket
    return [rng.choice(OPERATORS)] + [generate_tree(rng, depth + 1, max_depth, max_args, budget)
                                      for _ in range(n_args)]


class _TooLong(Exception):
    pass


def tokens_of(tree):
    if isinstance(tree, int):
        return [str(tree)]
    out = [tree[0]]
    for arg in tree[1:]:
        out.extend(tokens_of(arg))
    out.append("]")
    return out


def apply_op(op, values):
    if op == "[MIN":
        return min(values)
    if op == "[MAX":
        return max(values)
    if op == "[MED":
        s = sorted(values)
        n = len(s)
        return s[n // 2] if n % 2 else (s[n // 2 - 1] + s[n // 2]) // 2
    if op == "[SM":
        return sum(values) % 10
    raise ValueError(f"unknown operator {op}")


def evaluate(text):
    """Value of an expression string (tokens separated by whitespace; '(' ')' are ignored)."""
    stack = [[]]  # each frame: [op, values...]; the bottom frame collects the result
    for tok in text.split():
        if tok in ("(", ")"):
            continue
        if tok in OPERATORS:
            stack.append([tok])
        elif tok == "]":
            frame = stack.pop()
            if len(frame) < 2:
                raise ValueError("operator without arguments")
            stack[-1].append(apply_op(frame[0], frame[1:]))
        elif tok.isdigit() and len(tok) == 1:
            stack[-1].append(int(tok))
        else:
            raise ValueError(f"bad token {tok!r}")
    if len(stack) != 1 or len(stack[0]) != 1:
        raise ValueError("unbalanced expression")
    return stack[0][0]


def generate(n, seed, min_len=100, max_len=2000, max_depth=8, max_args=5):
    """n (text, label) pairs with min_len <= token count <= max_len; deterministic for a seed.
    LRA draws depth <= 10 and <= 10 arguments with lengths 500..2000; at those settings almost
    every tree overshoots 2000 tokens (measured: no accepted tree in 5000 draws), so we keep its
    process with depth <= 8 and <= 5 arguments: ~380 trees/s, median length ~1300 tokens."""
    rng = random.Random(seed)
    out = []
    while len(out) < n:
        try:
            tree = generate_tree(rng, 1, max_depth, max_args, [max_len])
        except _TooLong:
            continue
        toks = tokens_of(tree)
        if min_len <= len(toks) <= max_len:
            text = " ".join(toks)
            out.append((text, evaluate(text)))
    return out


def tokenize(text):
    return [TOKEN_ID[t] for t in text.split()]


def write_vocab(path):
    with open(path, "w") as fh:
        fh.write("\n".join(VOCAB) + "\n")


def _self_test():
    """Hand examples, generator statistics; run: python3 tests/reference/listops.py"""
    hand = {"[MAX 2 9 [MIN 4 7 ] 0 ]": 9, "[MIN 4 7 ]": 4, "[SM 9 9 5 ]": 3, "[MED 1 5 3 ]": 3,
            "[MED 1 2 3 4 ]": 2, "[MED 7 8 ]": 7, "[SM [MAX 3 8 ] [MIN 9 2 5 ] ]": 0,
            "[MED [SM 5 6 ] 4 [MAX 0 0 ] 9 ]": 2, "( ( [MAX 2 ) 9 ] )": 9, "7": 7,
            "[MIN [MAX [MED 3 3 9 ] 8 ] [SM 1 1 1 ] ]": 3}
    for text, want in hand.items():
        got = evaluate(text)
        assert got == want, f"{text}: got {got}, want {want}"
    for bad in ("[MAX 2", "[MAX ]", "2 3", "[FOO 1 ]"):
        try:
            evaluate(bad)
            raise AssertionError(f"{bad!r} should be rejected")
        except ValueError:
            pass
    # Round trip tree -> text -> value: the tree's own recursive value.
    rng = random.Random(1)

    def value(t):
        return t if isinstance(t, int) else apply_op(t[0], [value(a) for a in t[1:]])
    for _ in range(2000):
        t = generate_tree(rng, 1, 6, 5)
        assert evaluate(" ".join(tokens_of(t))) == value(t)
    assert all(tokenize(t)[0] > 0 for t in VOCAB[1:])
    import collections
    import time
    t0 = time.time()
    data = generate(400, seed=0)
    dt = time.time() - t0
    lens = sorted(len(t.split()) for t, _ in data)
    counts = collections.Counter(y for _, y in data)
    assert data == generate(400, seed=0), "not deterministic"
    assert 100 <= lens[0] and lens[-1] <= 2000
    print(f"listops: 400 examples in {dt:.1f}s; length min {lens[0]} median {lens[200]} max {lens[-1]}")
    print("listops: classes " + " ".join(f"{c}:{counts[c]}" for c in range(10))
          + f"; majority {max(counts.values()) / len(data):.3f}")
    print("listops: self-test passed")


if __name__ == "__main__":
    _self_test()
