// SQLite 3 from Debian's libsqlite3-dev: the embedded engine's store.
#include <sqlite3.h>
