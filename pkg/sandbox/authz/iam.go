package authz

import "fmt"

// ---- IAM (a global service: its ARNs name no region)

// iamARN builds arn:<partition>:iam::<account>:<resource>.
func (e Env) iamARN(resource string) string {
	return fmt.Sprintf("arn:%s:iam::%s:%s", e.Partition, e.Account, resource)
}

// roleARN is the ARN of the role named name: Env.Lookup's (with its path), else one with path /.
func (e Env) roleARN(name string) string {
	if arn := e.lookup(Role, name); arn != "" {
		return arn
	}
	return e.iamARN("role/" + name)
}

// iamPath is a request's Path, "/" when it names none.
func (r Request) iamPath() string {
	if p := r.Query.Get("Path"); p != "" {
		return p
	}
	return "/"
}

// onRole is an IAM operation on the role RoleName names; extra adds the request's own keys.
func onRole(action string, extra func(r Request, ctx map[string][]string)) operation {
	return func(e Env, r Request) ([]Need, error) {
		name, err := r.queryRequired("RoleName")
		if err != nil {
			return nil, err
		}
		arn := e.roleARN(name)
		ctx := map[string][]string{}
		if extra != nil {
			extra(r, ctx)
		}
		return one(action, arn, ctx)
	}
}

// onPolicy is an IAM operation on the managed policy PolicyArn names.
func onPolicy(action string) operation {
	return func(_ Env, r Request) ([]Need, error) {
		arn, err := r.queryRequired("PolicyArn")
		if err != nil {
			return nil, err
		}
		return one(action, arn, nil)
	}
}

// onProfile is an IAM operation on the instance profile InstanceProfileName names (with the
// request's Path when it creates one; an existing profile is named by its name alone, path /).
func onProfile(action string) operation {
	return func(e Env, r Request) ([]Need, error) {
		name, err := r.queryRequired("InstanceProfileName")
		if err != nil {
			return nil, err
		}
		return one(action, e.iamARN("instance-profile"+r.iamPath()+name), nil)
	}
}

var iamOps = map[string]operation{
	"CreateRole": func(e Env, r Request) ([]Need, error) {
		name, err := r.queryRequired("RoleName")
		if err != nil {
			return nil, err
		}
		ctx := map[string][]string{}
		r.queryTags(ctx)
		if b := r.Query.Get("PermissionsBoundary"); b != "" {
			ctx["iam:PermissionsBoundary"] = []string{b}
		}
		return one("iam:CreateRole", e.iamARN("role"+r.iamPath()+name), ctx)
	},
	"GetRole":          onRole("iam:GetRole", nil),
	"DeleteRole":       onRole("iam:DeleteRole", nil),
	"PutRolePolicy":    onRole("iam:PutRolePolicy", nil),
	"GetRolePolicy":    onRole("iam:GetRolePolicy", nil),
	"ListRolePolicies": onRole("iam:ListRolePolicies", nil),
	"DeleteRolePolicy": onRole("iam:DeleteRolePolicy", nil),
	"AttachRolePolicy": onRole("iam:AttachRolePolicy", func(r Request, ctx map[string][]string) {
		ctx["iam:PolicyARN"] = []string{r.Query.Get("PolicyArn")}
	}),
	"DetachRolePolicy": onRole("iam:DetachRolePolicy", func(r Request, ctx map[string][]string) {
		ctx["iam:PolicyARN"] = []string{r.Query.Get("PolicyArn")}
	}),
	"ListAttachedRolePolicies": onRole("iam:ListAttachedRolePolicies", nil),
	"CreatePolicy": func(e Env, r Request) ([]Need, error) {
		name, err := r.queryRequired("PolicyName")
		if err != nil {
			return nil, err
		}
		ctx := map[string][]string{}
		r.queryTags(ctx)
		return one("iam:CreatePolicy", e.iamARN("policy"+r.iamPath()+name), ctx)
	},
	"GetPolicy":                     onPolicy("iam:GetPolicy"),
	"GetPolicyVersion":              onPolicy("iam:GetPolicyVersion"),
	"DeletePolicy":                  onPolicy("iam:DeletePolicy"),
	"CreateInstanceProfile":         onProfile("iam:CreateInstanceProfile"),
	"GetInstanceProfile":            onProfile("iam:GetInstanceProfile"),
	"DeleteInstanceProfile":         onProfile("iam:DeleteInstanceProfile"),
	"AddRoleToInstanceProfile":      onProfile("iam:AddRoleToInstanceProfile"),
	"RemoveRoleFromInstanceProfile": onProfile("iam:RemoveRoleFromInstanceProfile"),
}
