// Tables for the .dockerignore matcher, written for strata from the behaviour moby/patternmatcher
// documents and implements. Every expectation was checked against patternmatcher itself (Go) during
// development; the Go oracle is not needed to run the tests.

/** [pattern, path, excluded?] for a single pattern, through MatchesOrParentMatches. */
export const singlePatternCases: Array<[string, string, boolean]> = [
  // literal patterns are exact matches, and a match on a parent directory counts
  ['fileutils.go', 'fileutils.go', true],
  ['fileutils.go', 'sub/fileutils.go', false],
  ['foo', 'foo/bar', true],
  ['foo', 'foo/bar/baz.txt', true],
  ['foo', 'a/foo', false],
  ['foo', 'foobar', false],
  ['foo/', 'foo', true], // cleaned to "foo": also matches a file named foo
  ['a/../b', 'b', true], // cleaned like filepath.Clean
  ['./a', 'a', true],
  ['.', 'a', false],
  // * and ? never cross a slash, but the parent rule makes * match everything below a top dir
  ['*.go', 'main.go', true],
  ['*.go', 'cmd/main.go', false],
  ['*', 'a/b/c', true],
  ['*/*.go', 'cmd/main.go', true],
  ['*/*.go', 'cmd/x/main.go', false],
  ['?.txt', 'a.txt', true],
  ['?.txt', 'ab.txt', false],
  ['?', 'é', true], // one rune, not one byte
  ['a?b', 'a/b', false],
  // ** at the start: a suffix match
  ['**', 'anything/at/all', true],
  ['**/foo', 'foo', true],
  ['**/foo', 'a/b/foo', true],
  ['**/foo', 'afoo', false],
  ['**file', 'file', true],
  ['**file', 'xfile', true],
  ['**file', 'dir/xfile', true],
  ['**file', 'file.txt', false],
  ['**/*.txt', 'c.txt', true],
  ['**/*.txt', 'a/b/c.txt', true],
  // ** in the middle spans any number of directories, including none; inside a name it also spans /
  ['a/**/b', 'a/b', true],
  ['a/**/b', 'a/x/y/b', true],
  ['a**/*.txt', 'a/x.txt', true],
  ['a**/*.txt', 'ab/c/x.txt', true],
  ['a**/*.txt', 'ax.txt', true],
  ['a**/*.txt', 'b/x.txt', false],
  // ** at the end: a prefix match, which does not match the directory itself
  ['abc/**', 'abc', false],
  ['abc/**', 'abc/x', true],
  ['abc/**', 'abc/x/y', true],
  ['abc**', 'abc', true],
  ['abc**', 'abcd/e', true],
  ['a*/**', 'ab/c', true],
  ['a*/**', 'ab', false],
  // regexp metacharacters in names are literal
  ['a(b)c/def', 'a(b)c/def', true],
  ['a(b)c/*', 'a(b)c/def', true],
  ['dist/*.whl', 'dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl', true],
  [
    'dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl',
    'dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl',
    true,
  ],
  ['a.b', 'axb', false],
  ['a$b', 'a$b', true],
  ['a.|)$(}+{bc', 'a.|)$(}+{bc', true],
  // character classes and escapes
  ['[a-c]at', 'bat', true],
  ['[a-c]at', 'dat', false],
  ['[^a]at', 'bat', true],
  ['[^a]at', 'aat', false],
  ['[!a]at', '!at', true], // Go has no ! negation: ! is a member
  ['[\\]]x', ']x', true],
  ['\\*', '*', true],
  ['\\*', 'a', false],
  ['\\[x\\]', '[x]', true],
  // Docker quirks: the pattern becomes a Go regexp, and some characters keep their regexp meaning
  ['[[:digit:]]x', '5x', true], // POSIX class inside brackets
  ['[[:digit:]]x', 'dx', false],
  ['a|b*', 'xb', true], // | is not escaped: "^a|b[^/]*$"
  ['a|b*', 'zzz', false],
  ['a{2}*', 'aa', true], // {n} is a repetition
  ['a{2}*', 'a{2}', false],
  ['a\\d', 'a1', true], // \d is a digit class, not "d"
  ['a\\d', 'ad', false],
  ['a\\b', 'ab', false], // \b is a word boundary
];

/** [patterns, path, excluded (MatchesOrParentMatches), excluded in a walk (MatchesUsingParentResults)] */
export const multiPatternCases: Array<[string[], string, boolean, boolean]> = [
  [['docs', '!docs/keep.txt'], 'docs/keep.txt', false, false],
  [['docs', '!docs/keep.txt'], 'docs/other.txt', true, true],
  [['docs', '!docs/keep.txt'], 'docs', true, true],
  [['*.md', '!README.md'], 'README.md', false, false],
  [['*.md', '!README.md'], 'CHANGES.md', true, true],
  [['*.md', '!README.md'], 'docs/CHANGES.md', false, false],
  [['!a', 'a'], 'a', true, true],
  [['a', '!a'], 'a', false, false],
  [['a', '!a', 'a'], 'a/b', true, true],
  [['**/*.log', '!important.log'], 'important.log', false, false],
  [['**/*.log', '!important.log'], 'x/important.log', true, true],
  [['dir/**', '!dir/keep/**'], 'dir/keep/x', false, false],
  [['dir/**', '!dir/keep/**'], 'dir/keep', true, true],
  [['dir/**', '!dir/keep/**'], 'dir/other', true, true],
  [['*', '!*/'], 'a', false, false], // "!*/" is cleaned to "!*": re-includes every top-level name
  // Here too: in a walk, "vendor" was skipped at the directory (already excluded), so it is not
  // re-tried on vendor/x.go after "!**/*.go" re-included it.
  [['**', '!**/*.go', 'vendor'], 'vendor/x.go', true, false],
  [['**', '!**/*.go', 'vendor'], 'cmd/x.go', false, false],
  // The two algorithms differ here: a walk does not re-test "!a" against a/b's parents once the
  // parent was evaluated, so the file stays excluded. Docker sends what the walk decides.
  [['*/b', '!a'], 'a/b', false, true],
];

/** Patterns patternmatcher refuses, with the reason we give. */
export const invalidPatterns: Array<[string, string]> = [
  ['[', 'syntax error in pattern "["'],
  ['[]', 'syntax error in pattern "[]"'],
  ['[a-', 'syntax error in pattern "[a-"'],
  ['[^]', 'syntax error in pattern "[^]"'],
  ['a\\', 'syntax error in pattern "a\\\\"'],
  ['x/[', 'syntax error in pattern "x/["'],
  ['!', 'illegal exclusion pattern: "!"'],
  ['*[', 'syntax error in pattern "*["'], // reported even though "." fails at the first chunk
  ['[z-a]', 'invalid character class range in pattern "[z-a]"'], // Go's regexp refuses it
  ['a\\y', 'invalid escape \\y in pattern "a\\\\y"'],
  ['a\\pL', 'the regexp escape \\p is not supported in ignore patterns in pattern "a\\\\pL"'],
];
