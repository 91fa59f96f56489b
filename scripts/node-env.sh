# Sourced by the repository's shell scripts: Node 24 from .tools/node (scripts/node.sh fetch)
# goes first on PATH when it was installed, so node, npm and npx all run on it.
_clipn_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if [ -x "$_clipn_root/.tools/node/bin/node" ]; then
  case ":$PATH:" in
    *":$_clipn_root/.tools/node/bin:"*) ;;
    *) PATH="$_clipn_root/.tools/node/bin:$PATH"; export PATH ;;
  esac
fi
unset _clipn_root
