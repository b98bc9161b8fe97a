"""The test suite, a regular package: Hershey-Fonts (requirements.txt) installs a top-level `tests`
package of its own into site-packages, which would shadow a namespace package of this name."""
