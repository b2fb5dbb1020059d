// The system libxml2 is built with ICU; its headers would pull ICU's types into Swift, where
// they clash with Foundation's own ICU module. Read the version header first, switch ICU off,
// then include the rest.
#include <libxml/xmlversion.h>
#undef LIBXML_ICU_ENABLED
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xmlerror.h>
#include <libxml/xmlschemas.h>
#include <libxml/xpath.h>
#include <libxml/xpathInternals.h>
#include <libxml/xmlsave.h>
