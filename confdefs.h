/* confdefs.h */
#define PACKAGE_NAME "ember"
#define PACKAGE_TARNAME "ember"
#define PACKAGE_VERSION "0.1.0"
#define PACKAGE_STRING "ember 0.1.0"
#define PACKAGE_BUGREPORT ""
#define PACKAGE_URL ""
#define EMBER_VERSION "0.1.0"
