package auth

import "github.com/compadre-dev/compadre/store"

// Names of the built-in roles every organization has.
const (
	DefaultUserRole               = "DefaultUserRole"
	DefaultAdministratorRole      = "DefaultAdministratorRole"
	DefaultAmigoAdministratorRole = "DefaultAmigoAdministratorRole"
	DefaultSuperAdministratorRole = "DefaultSuperAdministratorRole"
)

// defaultUserPermissions are what an ordinary end user may do: hold
// conversations and read their own kind of data. Conditions narrowing these
// to the user's own records arrive with role conditions.
var defaultUserPermissions = []Permission{
	ConversationCreateConversation, ConversationInteractWithConversation, ConversationGetConversation,
	ConversationGetMessage, ConversationFinishConversation, ConversationGetInteractionInsights,
	ConversationGetRecommendedResponses, ServiceGetService, ServiceGetVersionSet, OrganizationGetOrganizationDetails,
	UserGetUserInfo, UserGetUserModel, UserUpdateUserInfo,
}

// BuiltinRoles returns the roles created with every organization. The two
// top roles hold every permission; the administrator role holds all but
// creating and deleting organizations. See DECISIONS.md, "Why these
// built-in roles?".
func BuiltinRoles() []store.Role {
	var admin []Permission
	for _, p := range AllPermissions {
		if p != OrganizationCreateOrganization && p != OrganizationDeleteOrganization {
			admin = append(admin, p)
		}
	}
	return []store.Role{
		builtin(DefaultUserRole, "A user of the organization's agents.", "client", defaultUserPermissions),
		builtin(DefaultAdministratorRole, "Administers the organization.", "admin", admin),
		builtin(DefaultAmigoAdministratorRole, "Platform administrator with every permission.", "admin", AllPermissions),
		builtin(DefaultSuperAdministratorRole, "Super administrator with every permission.", "admin", AllPermissions),
	}
}

func builtin(name, description, view string, perms []Permission) store.Role {
	grants := make([]store.PermissionGrant, len(perms))
	for i, p := range perms {
		grants[i] = store.PermissionGrant{PermissionName: string(p), Conditions: map[string]store.Condition{}}
	}
	return store.Role{Name: name, Description: description, FrontendView: view, PermissionGrants: grants, Builtin: true}
}
