#include "sim/cli/config.hpp"

#include <cstdlib>
#include <fstream>
#include <iterator>
#include <set>
#include <sstream>

namespace snn::cli {

namespace {

std::string trimmed(const std::string& s) {
    const auto b = s.find_first_not_of(" \t\r");
    if (b == std::string::npos) return {};
    return s.substr(b, s.find_last_not_of(" \t\r") - b + 1);
}

std::string unquoted(std::string s) {
    if (s.size() >= 2 && (s.front() == '"' || s.front() == '\'') && s.back() == s.front()) s = s.substr(1, s.size() - 2);
    return s;
}

std::string joined(const std::vector<std::string>& parts, char sep) {
    std::string out;
    for (const auto& p : parts) out += (out.empty() ? "" : std::string(1, sep)) + p;
    return out;
}

// The command a path of subcommand names leads to, or nullptr.
const CLI::App* command_at(const CLI::App& app, const std::vector<std::string>& path) {
    const CLI::App* cur = &app;
    for (const auto& name : path) {
        const CLI::App* next = nullptr;
        for (const CLI::App* sub : cur->get_subcommands({}))
            if (sub->get_name() == name) next = sub;
        if (next == nullptr) return nullptr;
        cur = next;
    }
    return cur;
}

// The options a config file may set: every option of the command but help,
// --config and --dump-config.
bool settable(const CLI::Option* opt, const CLI::App* cmd) {
    const std::string& name = opt->get_single_name();
    return opt != cmd->get_help_ptr() && opt->get_configurable() && name != "config" && name != "dump-config" &&
           !name.empty();
}

// A value as TOML writes it: numbers and booleans bare, anything else quoted.
std::string toml_value(const std::string& v) {
    if (v == "true" || v == "false") return v;
    if (!v.empty()) {
        char* end = nullptr;
        std::strtod(v.c_str(), &end);
        if (end != nullptr && *end == '\0' && v.find_first_of("xXnN") == std::string::npos) return v;
    }
    // CLI11's reader cuts a line at '#' even inside quotes and does not
    // unescape: such a value would not read back as written.
    if (v.find('#') != std::string::npos || (v.find('"') != std::string::npos && v.find('\'') != std::string::npos))
        throw ConfigFileError("--dump-config: the value '" + v + "' cannot be written to a config file");
    const char q = v.find('"') == std::string::npos ? '"' : '\'';
    return q + v + q;
}

} // namespace

struct ConfigFiles::State {
    std::string file;                 // the --config file, "" if none
    std::vector<std::string> path;    // the command, e.g. {"exits", "train"}
    const CLI::App* root = nullptr;
    const CLI::App* command = nullptr;
    std::map<std::string, int> lines; // key of the command → its line in the file
    std::set<std::string> on_command_line;

    [[noreturn]] void fail(int line, const std::string& what) const {
        throw ConfigFileError(file + (line > 0 ? ":" + std::to_string(line) : std::string()) + ": " + what);
    }
};

namespace {

// CLI11's TOML/INI reader, with every key checked against the command and
// its line remembered. Keys of other commands' sections are dropped.
class Reader : public CLI::ConfigTOML {
public:
    explicit Reader(std::shared_ptr<ConfigFiles::State> s) : s_(std::move(s)) {}

    std::vector<CLI::ConfigItem> from_config(std::istream& input) const override {
        const std::string text{std::istreambuf_iterator<char>(input), std::istreambuf_iterator<char>()};
        // Where each "section.key" and each section starts, as CLI11 will read them.
        std::map<std::string, int> key_line, section_line;
        {
            std::istringstream lines(text);
            std::string line, section;
            for (int n = 1; std::getline(lines, line); ++n) {
                line = trimmed(line);
                if (line.size() < 3 || line.front() == '#' || line.front() == ';') continue;
                if (line.front() == '[' && line.back() == ']') {
                    section = trimmed(line.substr(1, line.size() - 2));
                    if (section.size() > 1 && section.front() == '[' && section.back() == ']')
                        section = section.substr(1, section.size() - 2);
                    if (section == "default" || section == "DEFAULT") section.clear();
                    section_line.emplace(section, n);
                    continue;
                }
                const auto eq = line.find('=');
                std::string key = trimmed(line.substr(0, eq));
                if (const auto hash = key.find('#'); eq == std::string::npos && hash != std::string::npos)
                    key = trimmed(key.substr(0, hash));
                key = unquoted(key);
                key_line.emplace(section.empty() ? key : section + "." + key, n);
            }
        }
        std::istringstream again(text);
        std::vector<CLI::ConfigItem> read = CLI::ConfigTOML::from_config(again);
        std::vector<CLI::ConfigItem> out;
        for (CLI::ConfigItem& item : read) {
            if (item.name == "++" || item.name == "--") continue; // section markers
            const std::string full = item.fullname();
            const auto at = key_line.find(full);
            const int line = at == key_line.end() ? 0 : at->second;
            if (!item.parents.empty() && item.parents != s_->path) {
                if (command_at(*s_->root, item.parents) != nullptr) continue; // another command's section
                const std::string section = joined(item.parents, '.');
                const auto sl = section_line.find(section);
                s_->fail(sl == section_line.end() ? line : sl->second,
                         "section [" + section + "] is not an snn command (sections: [run], [convert], [exits.train], ...)");
            }
            const std::string cmd = "snn " + joined(s_->path, ' ');
            const CLI::Option* opt = s_->command->get_option_no_throw("--" + item.name);
            if (opt == nullptr) opt = s_->command->get_option_no_throw(item.name);
            if (opt == nullptr || item.name.empty() || item.name.front() == '-')
                s_->fail(line, "unknown key '" + item.name + "' for " + cmd + " (keys are its flags without --: " + cmd +
                                   " --help)");
            if (!settable(opt, s_->command))
                s_->fail(line, "key '" + item.name + "' cannot be set in a config file");
            if (item.inputs.empty() || (item.inputs.size() == 1 && item.inputs.front().empty() &&
                                        opt->get_expected_min() > 0))
                s_->fail(line, "key '" + item.name + "' has no value");
            s_->lines[opt->get_single_name()] = line;
            item.parents = s_->path;
            out.push_back(std::move(item));
        }
        return out;
    }

private:
    std::shared_ptr<ConfigFiles::State> s_;
};

} // namespace

void ConfigFiles::attach(CLI::App& app) {
    std::vector<CLI::App*> todo{&app};
    while (!todo.empty()) {
        CLI::App* a = todo.back();
        todo.pop_back();
        const auto subs = a->get_subcommands({});
        if (subs.empty() && a != &app) {
            a->add_option("--config")
                ->description("Read this command's options from a TOML or INI file (keys: the flags' names without --; "
                              "the command line wins)")
                ->type_name("FILE")
                ->configurable(false);
            dump_flags_[a] = a->add_flag("--dump-config")
                                 ->description("Print the effective options as a config file for --config, and run nothing")
                                 ->configurable(false);
            leaves_.push_back(a);
        }
        todo.insert(todo.end(), subs.begin(), subs.end());
    }
}

void ConfigFiles::prepare(CLI::App& app, int argc, const char* const* argv) {
    state_ = std::make_shared<State>();
    State& s = *state_;
    s.root = &app;
    int i = 1;
    for (; i < argc; ++i) {
        std::vector<std::string> next = s.path;
        next.push_back(argv[i]);
        if (command_at(app, next) == nullptr) break;
        s.path = std::move(next);
    }
    s.command = command_at(app, s.path);
    for (; i < argc; ++i) {
        const std::string arg = argv[i];
        std::string flag = arg.substr(0, arg.find('='));
        if (flag == "--config") {
            if (!s.file.empty()) throw ConfigFileError("--config: give one config file");
            if (arg.size() > flag.size()) s.file = arg.substr(flag.size() + 1);
            else if (i + 1 < argc) s.file = argv[++i];
            continue;
        }
        if (arg.size() > 1 && arg[0] == '-' && s.command != nullptr)
            if (const CLI::Option* opt = s.command->get_option_no_throw(flag))
                s.on_command_line.insert(opt->get_single_name());
    }
    if (s.file.empty() || s.command == nullptr || s.path.empty()) return;
    if (!std::ifstream(s.file)) throw ConfigFileError(s.file + ": cannot read the config file (--config)");
    app.config_formatter(std::make_shared<Reader>(state_));
    app.set_config("--snn-config-file", s.file, "", true)->group("");
}

bool ConfigFiles::dump_if_asked(std::ostream& out) const {
    for (const CLI::App* cmd : leaves_) {
        const auto flag = dump_flags_.find(cmd);
        if (flag == dump_flags_.end() || flag->second->count() == 0) continue;
        std::vector<std::string> path;
        for (const CLI::App* a = cmd; a->get_parent() != nullptr; a = a->get_parent()) path.insert(path.begin(), a->get_name());
        std::ostringstream text;
        text << "# snn " << joined(path, ' ') << ": its options for --config (lines starting with # are not set:"
             << " defaults)\n";
        for (const CLI::Option* opt : cmd->get_options({})) {
            if (!settable(opt, cmd)) continue;
            const std::string& name = opt->get_single_name();
            if (opt->count() == 0) {
                const std::string def = opt->get_default_str();
                if (opt->get_expected_min() == 0) text << "# " << name << " = false\n";
                else if (def.empty()) text << "# " << name << " (no default)\n";
                else text << "# " << name << " = " << toml_value(def) << "\n";
                continue;
            }
            if (opt->get_expected_min() == 0) { // a flag
                text << name << " = " << (opt->as<bool>() ? "true" : "false") << "\n";
                continue;
            }
            const std::vector<std::string> values = opt->results();
            if (values.size() == 1 && opt->get_items_expected_max() <= 1) {
                text << name << " = " << toml_value(values.front()) << "\n";
                continue;
            }
            text << name << " = [";
            for (std::size_t k = 0; k < values.size(); ++k) text << (k ? ", " : "") << toml_value(values[k]);
            text << "]\n";
        }
        out << text.str();
        return true;
    }
    return false;
}

std::string ConfigFiles::locate(const std::string& key) const {
    if (!state_ || state_->file.empty() || key.empty() || state_->on_command_line.count(key) > 0) return {};
    const auto at = state_->lines.find(key);
    if (at == state_->lines.end()) return {};
    return state_->file + ":" + std::to_string(at->second) + ": key '" + key + "': ";
}

std::string ConfigFiles::locate_parse_error(const std::string& message) const {
    if (!state_ || state_->file.empty()) return {};
    for (const auto& [key, line] : state_->lines) {
        for (const std::string& name : {"--" + key, key}) {
            for (auto pos = message.find(name); pos != std::string::npos; pos = message.find(name, pos + 1)) {
                const auto end = pos + name.size();
                const bool starts = pos == 0 || !(std::isalnum((unsigned char)message[pos - 1]) || message[pos - 1] == '-');
                const bool ends = end == message.size() ||
                                  !(std::isalnum((unsigned char)message[end]) || message[end] == '-' || message[end] == '_');
                if (starts && ends) return locate(key);
            }
        }
    }
    return {};
}

} // namespace snn::cli
