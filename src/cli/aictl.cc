// aictl: the operator's command for aikerneld. See `aictl --help`.
#include "cli/cli.h"

int main(int argc, char** argv) { return aikernel::cli::RunAictl(argc, argv); }
