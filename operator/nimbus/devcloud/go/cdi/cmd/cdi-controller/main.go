/*
 * Copied from the CDI project (kubevirt.io/containerized-data-importer v1.65.0,
 * cmd/cdi-controller/controller.go) and changed as the comment below says.
 *
 * Licensed under the Apache License, Version 2.0 (the "License");
 * you may not use this file except in compliance with the License.
 * You may obtain a copy of the License at
 *
 *     http://www.apache.org/licenses/LICENSE-2.0
 *
 * Unless required by applicable law or agreed to in writing, software
 * distributed under the License is distributed on an "AS IS" BASIS,
 * WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
 * See the License for the specific language governing permissions and
 * limitations under the License.
 *
 * Copyright 2018 The CDI Authors.
 *
 */

// Command cdi-controller is CDI's cdi-controller main for the local cloud, starting every
// controller CDI's own starts, in the same order. What CDI's hard-codes is a flag here, its
// default CDI's value (or its environment variable's, which still works):
//
//   - --metrics-bind-address (CDI: ":8443", every interface; here 127.0.0.1:8443, "0" turns it
//     off) and --health-probe-bind-address (CDI serves none; here /healthz and /readyz if set);
//   - --leader-elect (CDI: always on; a Lease in the namespace), --ready-file (CDI: /tmp/ready);
//   - the clone-token keys: --token-key-dir (CDI's /var/run/cdi/token/keys, id_rsa and
//     id_rsa.pub, mounted from the Secret cdi-api-signing-key), or --token-key-secret to read
//     that Secret, which cdi-apiserver creates, straight from the API;
//   - the images (--importer-image, ..., else $IMPORTER_IMAGE, ..., else CDI's release images,
//     which nothing pulls on fake nodes) and --uploadproxy-service, which CDI requires as env;
//   - the upload signers' files and CA bundle ConfigMaps (else $UPLOAD_SERVER_CERT_FILE, ...).
//
// --namespace only checks: CDI's packages take the namespace from util.GetNamespace(), the
// service-account file of a pod, which outside one is always "cdi".
package main

import (
	"context"
	"crypto/rsa"
	"crypto/tls"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/kelseyhightower/envconfig"
	snapshotv1 "github.com/kubernetes-csi/external-snapshotter/client/v6/apis/volumesnapshot/v1"
	ocpconfigv1 "github.com/openshift/api/config/v1"
	imagev1 "github.com/openshift/api/image/v1"
	routev1 "github.com/openshift/api/route/v1"
	"github.com/pkg/errors"
	"go.uber.org/zap/zapcore"

	batchv1 "k8s.io/api/batch/v1"
	v1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	extv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	k8serrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	apiruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/klog/v2"

	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/config"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	"sigs.k8s.io/controller-runtime/pkg/manager/signals"
	"sigs.k8s.io/controller-runtime/pkg/metrics/server"

	cdiv1 "kubevirt.io/containerized-data-importer-api/pkg/apis/core/v1beta1"
	forklift "kubevirt.io/containerized-data-importer-api/pkg/apis/forklift/v1beta1"
	cdiclient "kubevirt.io/containerized-data-importer/pkg/client/clientset/versioned"
	"kubevirt.io/containerized-data-importer/pkg/common"
	"kubevirt.io/containerized-data-importer/pkg/controller"
	dvc "kubevirt.io/containerized-data-importer/pkg/controller/datavolume"
	"kubevirt.io/containerized-data-importer/pkg/controller/populators"
	"kubevirt.io/containerized-data-importer/pkg/controller/transfer"
	"kubevirt.io/containerized-data-importer/pkg/keys"
	metrics "kubevirt.io/containerized-data-importer/pkg/monitoring/metrics/cdi-controller"
	"kubevirt.io/containerized-data-importer/pkg/util"
	"kubevirt.io/containerized-data-importer/pkg/util/cert"
	"kubevirt.io/containerized-data-importer/pkg/util/cert/fetcher"
	"kubevirt.io/containerized-data-importer/pkg/util/cert/generator"
	cryptowatch "kubevirt.io/containerized-data-importer/pkg/util/tls-crypto-watch"
)

// cdiImage is the release image CDI v1.65.0 names a component by; the defaults of the image
// flags, only ever written into pod specs.
func cdiImage(name string) string {
	return "quay.io/kubevirt/" + name + ":v1.65.0"
}

var (
	kubeconfig             string
	kubeURL                string
	importerImage          string
	clonerImage            string
	uploadServerImage      string
	uploadProxyServiceName string
	ovirtPopulatorImage    string
	configName             string
	pullPolicy             string
	verbose                string
	installerLabels        map[string]string
	log                    = logf.Log.WithName("controller")
	controllerEnvs         ControllerEnvs
	resourcesSchemeFuncs   = []func(*apiruntime.Scheme) error{
		clientgoscheme.AddToScheme,
		cdiv1.AddToScheme,
		extv1.AddToScheme,
		snapshotv1.AddToScheme,
		forklift.AddToScheme,
		imagev1.Install,
		ocpconfigv1.Install,
		routev1.Install,
	}

	// What CDI's main hard-codes.
	namespaceFlag          string
	metricsBindAddress     string
	healthProbeBindAddress string
	leaderElect            bool
	readyFile              string
	tokenKeyDir            string
	tokenKeySecret         string
	tokenPublicKey         *rsa.PublicKey
	tokenPrivateKey        *rsa.PrivateKey
)

// ControllerEnvs contains environment variables read for setting custom cert paths
type ControllerEnvs struct {
	UploadServerKeyFile           string `default:"/var/run/certs/cdi-uploadserver-signer/tls.key" split_words:"true"`
	UploadServerCertFile          string `default:"/var/run/certs/cdi-uploadserver-signer/tls.crt" split_words:"true"`
	UploadClientKeyFile           string `default:"/var/run/certs/cdi-uploadserver-client-signer/tls.key" split_words:"true"`
	UploadClientCertFile          string `default:"/var/run/certs/cdi-uploadserver-client-signer/tls.crt" split_words:"true"`
	UploadServerCaBundleConfigMap string `default:"cdi-uploadserver-signer-bundle" split_words:"true"`
	UploadClientCaBundleConfigMap string `default:"cdi-uploadserver-client-signer-bundle" split_words:"true"`
}

func envOr(name, fallback string) string {
	if val := os.Getenv(name); val != "" {
		return val
	}
	return fallback
}

// parseFlags is CDI's init() (flags, images, labels, metrics), with the flags above. The
// environment is read first: its values are the flags' defaults.
func parseFlags() {
	if err := envconfig.Process("", &controllerEnvs); err != nil {
		klog.Fatalf("Unable to get environment variables: %v\n", errors.WithStack(err))
	}

	// flags
	flag.StringVar(&kubeURL, "server", "", "(Optional) URL address of a remote api server.  Do not set for local clusters.")
	flag.StringVar(&namespaceFlag, "namespace", util.GetNamespace(), "the namespace CDI runs in; must be what CDI's packages use (\"cdi\" outside a pod)")
	flag.StringVar(&metricsBindAddress, "metrics-bind-address", "127.0.0.1:8443", "host:port of the metrics endpoint (HTTPS, self-signed); \"0\" turns it off")
	flag.StringVar(&healthProbeBindAddress, "health-probe-bind-address", "", "host:port of /healthz and /readyz (HTTP); empty (CDI's way) turns them off")
	flag.BoolVar(&leaderElect, "leader-elect", true, "take the Lease cdi-controller-leader-election-helper in the namespace before running")
	flag.StringVar(&readyFile, "ready-file", "/tmp/ready", "file created at start and removed at exit (CDI's readiness probe); empty for none")
	flag.StringVar(&tokenKeyDir, "token-key-dir", controller.TokenKeyDir, "directory holding the clone-token keys id_rsa and id_rsa.pub (cdi-api-signing-key's)")
	flag.StringVar(&tokenKeySecret, "token-key-secret", "", "read the clone-token keys from this Secret of the namespace (cdi-apiserver creates cdi-api-signing-key) instead of --token-key-dir; waits for it")
	flag.StringVar(&importerImage, "importer-image", envOr("IMPORTER_IMAGE", cdiImage("cdi-importer")), "importer image (default $IMPORTER_IMAGE)")
	flag.StringVar(&clonerImage, "cloner-image", envOr("CLONER_IMAGE", cdiImage("cdi-cloner")), "cloner image (default $CLONER_IMAGE)")
	flag.StringVar(&uploadServerImage, "uploadserver-image", envOr("UPLOADSERVER_IMAGE", cdiImage("cdi-uploadserver")), "upload server image (default $UPLOADSERVER_IMAGE)")
	flag.StringVar(&ovirtPopulatorImage, "ovirt-populator-image", envOr("OVIRT_POPULATOR_IMAGE", cdiImage("cdi-importer")), "oVirt populator image (default $OVIRT_POPULATOR_IMAGE)")
	flag.StringVar(&uploadProxyServiceName, "uploadproxy-service", envOr("UPLOADPROXY_SERVICE", common.CDIUploadProxyResourceName), "the upload proxy's Service (default $UPLOADPROXY_SERVICE)")
	flag.StringVar(&pullPolicy, "pull-policy", envOr(common.PullPolicy, common.DefaultPullPolicy), "pull policy of the pods' images (default $PULL_POLICY)")
	flag.StringVar(&controllerEnvs.UploadServerCertFile, "uploadserver-signer-cert", controllerEnvs.UploadServerCertFile, "CA signing upload servers' certificates (default $UPLOAD_SERVER_CERT_FILE)")
	flag.StringVar(&controllerEnvs.UploadServerKeyFile, "uploadserver-signer-key", controllerEnvs.UploadServerKeyFile, "its key (default $UPLOAD_SERVER_KEY_FILE)")
	flag.StringVar(&controllerEnvs.UploadClientCertFile, "uploadserver-client-signer-cert", controllerEnvs.UploadClientCertFile, "CA signing upload clients' certificates (default $UPLOAD_CLIENT_CERT_FILE)")
	flag.StringVar(&controllerEnvs.UploadClientKeyFile, "uploadserver-client-signer-key", controllerEnvs.UploadClientKeyFile, "its key (default $UPLOAD_CLIENT_KEY_FILE)")
	flag.StringVar(&controllerEnvs.UploadServerCaBundleConfigMap, "uploadserver-ca-bundle-configmap", controllerEnvs.UploadServerCaBundleConfigMap, "ConfigMap (key ca-bundle.crt) of the upload server CA (default $UPLOAD_SERVER_CA_BUNDLE_CONFIG_MAP)")
	flag.StringVar(&controllerEnvs.UploadClientCaBundleConfigMap, "uploadserver-client-ca-bundle-configmap", controllerEnvs.UploadClientCaBundleConfigMap, "ConfigMap (key ca-bundle.crt) of the upload client CA (default $UPLOAD_CLIENT_CA_BUNDLE_CONFIG_MAP)")
	klog.InitFlags(nil)
	flag.Parse()

	// controller-runtime's config package registers --kubeconfig.
	if flag.Lookup("kubeconfig") != nil {
		kubeconfig = flag.Lookup("kubeconfig").Value.String()
	}
	if namespaceFlag != util.GetNamespace() {
		klog.Fatalf("--namespace=%s: CDI's packages use %q (util.GetNamespace: a pod's service-account namespace, else \"cdi\")", namespaceFlag, util.GetNamespace())
	}
	installerLabels = map[string]string{}

	// We will need to put those on every resource our controller creates
	if partOfVal := os.Getenv(common.InstallerPartOfLabel); len(partOfVal) != 0 {
		installerLabels[common.AppKubernetesPartOfLabel] = partOfVal
	}
	if versionVal := os.Getenv(common.InstallerVersionLabel); len(versionVal) != 0 {
		installerLabels[common.AppKubernetesVersionLabel] = versionVal
	}

	configName = common.ConfigName

	// NOTE we used to have a constant here and we're now just passing in the level directly
	// that should be fine since it was a constant and not a mutable variable
	defVerbose := fmt.Sprintf("%d", 1) // note flag values are strings
	verbose = defVerbose
	// visit actual flags passed in and if passed check -v and set verbose
	flag.Visit(func(f *flag.Flag) {
		if f.Name == "v" {
			verbose = f.Value.String()
		}
	})
	if verbose == defVerbose {
		klog.V(1).Infof("Note: increase the -v level in the controller deployment for more detailed logging, eg. -v=%d or -v=%d\n", 2, 3)
	}

	// Setup metrics for our various controllers
	if err := metrics.SetupMetrics(); err != nil {
		klog.Errorf("failed to setup metrics: %v", err)
		os.Exit(1)
	}

	klog.V(3).Infof("init: complete: cdi controller will create importer using image %q\n", importerImage)
}

func start() {
	klog.Info("Starting CDI controller components")

	namespace := util.GetNamespace()

	cfg, err := clientcmd.BuildConfigFromFlags(kubeURL, kubeconfig)
	if err != nil {
		klog.Fatalf("Unable to get kube config: %v\n", errors.WithStack(err))
	}

	k8sClient, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		klog.Fatalf("Unable to get kube client: %v\n", errors.WithStack(err))
	}

	ctx := signals.SetupSignalHandler()

	// CDI reads the keys once, before it builds the controllers; so does this.
	loadTokenKeys(ctx, k8sClient, namespace)

	// Setup scheme for all resources
	scheme := apiruntime.NewScheme()
	for _, f := range resourcesSchemeFuncs {
		err := f(scheme)
		if err != nil {
			klog.Errorf("Failed to add to scheme: %v", err)
			os.Exit(1)
		}
	}

	// client.New() returns a client without cache
	// since we don't have a cached client before manager init
	apiClient, err := client.New(cfg, client.Options{
		Scheme: scheme,
	})
	if err != nil {
		klog.Fatalf("Unable to get uncached client: %v\n", errors.WithStack(err))
	}

	managedTLSWatcher := cryptowatch.NewManagedTLSWatcher(cdiclient.NewForConfigOrDie(cfg))

	opts := manager.Options{
		LeaderElection:             leaderElect,
		LeaderElectionNamespace:    namespace,
		LeaderElectionID:           "cdi-controller-leader-election-helper",
		LeaderElectionResourceLock: "leases",
		HealthProbeBindAddress:     healthProbeBindAddress,
		Cache:                      getCacheOptions(apiClient, namespace),
		Scheme:                     scheme,
		Metrics: server.Options{
			BindAddress:   metricsBindAddress,
			SecureServing: true,
			// Disable HTTP/2 to prevent rapid reset vulnerability
			// See CVE-2023-44487, CVE-2023-39325
			TLSOpts: []func(*tls.Config){func(c *tls.Config) {
				c.NextProtos = []string{"http/1.1"}
				c.GetConfigForClient = func(t *tls.ClientHelloInfo) (*tls.Config, error) {
					config := c.Clone()
					if w := managedTLSWatcher.Watcher(); w != nil {
						cryptoConfig := w.GetCdiTLSConfig()
						config.CipherSuites = cryptoConfig.CipherSuites
						config.MinVersion = cryptoConfig.MinVersion
					}
					return config, nil
				}
			}},
		},
	}

	mgr, err := manager.New(config.GetConfigOrDie(), opts)
	if err != nil {
		klog.Errorf("Unable to setup controller manager: %v", err)
		os.Exit(1)
	}
	if healthProbeBindAddress != "" {
		if err := mgr.AddHealthzCheck("ping", healthz.Ping); err != nil {
			klog.Fatalf("Unable to add healthz check: %v", err)
		}
		if err := mgr.AddReadyzCheck("ping", healthz.Ping); err != nil {
			klog.Fatalf("Unable to add readyz check: %v", err)
		}
	}

	uploadClientCAFetcher := &fetcher.FileCertFetcher{KeyFileName: controllerEnvs.UploadClientKeyFile, CertFileName: controllerEnvs.UploadClientCertFile}
	uploadClientBundleFetcher := &fetcher.ConfigMapCertBundleFetcher{
		Name:   controllerEnvs.UploadClientCaBundleConfigMap,
		Client: k8sClient.CoreV1().ConfigMaps(namespace),
	}
	uploadClientCertGenerator := &generator.FetchCertGenerator{Fetcher: uploadClientCAFetcher}

	uploadServerCAFetcher := &fetcher.FileCertFetcher{KeyFileName: controllerEnvs.UploadServerKeyFile, CertFileName: controllerEnvs.UploadServerCertFile}
	uploadServerBundleFetcher := &fetcher.ConfigMapCertBundleFetcher{
		Name:   controllerEnvs.UploadServerCaBundleConfigMap,
		Client: k8sClient.CoreV1().ConfigMaps(namespace),
	}
	uploadServerCertGenerator := &generator.FetchCertGenerator{Fetcher: uploadServerCAFetcher}

	if _, err := controller.NewConfigController(mgr, log, uploadProxyServiceName, configName, installerLabels); err != nil {
		klog.Errorf("Unable to setup config controller: %v", err)
		os.Exit(1)
	}

	if _, err := controller.NewStorageProfileController(mgr, log, installerLabels); err != nil {
		klog.Errorf("Unable to setup storage profiles controller: %v", err)
		os.Exit(1)
	}

	if err := dvc.CreateCommonIndexes(mgr); err != nil {
		klog.Errorf("Unable to create shared indexes: %v", err)
		os.Exit(1)
	}

	// TODO: Current DV controller had threadiness 3, should we do the same here, defaults to one thread.
	if _, err := dvc.NewImportController(ctx, mgr, log, installerLabels); err != nil {
		klog.Errorf("Unable to setup datavolume import controller: %v", err)
		os.Exit(1)
	}
	if _, err := dvc.NewUploadController(ctx, mgr, log, installerLabels); err != nil {
		klog.Errorf("Unable to setup datavolume upload controller: %v", err)
		os.Exit(1)
	}
	if _, err := dvc.NewPvcCloneController(ctx, mgr, log,
		clonerImage, importerImage, pullPolicy, tokenPublicKey, tokenPrivateKey, installerLabels); err != nil {
		klog.Errorf("Unable to setup datavolume pvc clone controller: %v", err)
		os.Exit(1)
	}
	if _, err := dvc.NewSnapshotCloneController(ctx, mgr, log,
		clonerImage, importerImage, pullPolicy, tokenPublicKey, tokenPrivateKey, installerLabels); err != nil {
		klog.Errorf("Unable to setup datavolume snapshot clone controller: %v", err)
		os.Exit(1)
	}
	if _, err := dvc.NewPopulatorController(ctx, mgr, log, installerLabels); err != nil {
		klog.Errorf("Unable to setup datavolume external-population controller: %v", err)
		os.Exit(1)
	}

	if _, err := controller.NewImportController(mgr, log, importerImage, pullPolicy, verbose, installerLabels); err != nil {
		klog.Errorf("Unable to setup import controller: %v", err)
		os.Exit(1)
	}

	if _, err := controller.NewCloneController(mgr, log, clonerImage, pullPolicy, verbose, uploadClientCertGenerator, uploadServerBundleFetcher, tokenPublicKey, installerLabels); err != nil {
		klog.Errorf("Unable to setup clone controller: %v", err)
		os.Exit(1)
	}

	if _, err := controller.NewUploadController(mgr, log, uploadServerImage, pullPolicy, verbose, uploadServerCertGenerator, uploadClientBundleFetcher, installerLabels); err != nil {
		klog.Errorf("Unable to setup upload controller: %v", err)
		os.Exit(1)
	}

	if _, err := transfer.NewObjectTransferController(mgr, log, installerLabels); err != nil {
		klog.Errorf("Unable to setup transfer controller: %v", err)
		os.Exit(1)
	}

	if _, err := controller.NewDataImportCronController(mgr, log, importerImage, pullPolicy, installerLabels); err != nil {
		klog.Errorf("Unable to setup dataimportcron controller: %v", err)
		os.Exit(1)
	}
	if _, err := controller.NewDataSourceController(mgr, log, installerLabels); err != nil {
		klog.Errorf("Unable to setup datasource controller: %v", err)
		os.Exit(1)
	}
	// Populator controllers and indexes
	if err := populators.CreateCommonPopulatorIndexes(mgr); err != nil {
		klog.Errorf("Unable to create common populator indexes: %v", err)
		os.Exit(1)
	}
	if _, err := populators.NewImportPopulator(ctx, mgr, log, installerLabels); err != nil {
		klog.Errorf("Unable to setup import populator: %v", err)
		os.Exit(1)
	}
	if _, err := populators.NewUploadPopulator(ctx, mgr, log, installerLabels); err != nil {
		klog.Errorf("Unable to setup upload populator: %v", err)
		os.Exit(1)
	}
	if _, err := populators.NewClonePopulator(ctx, mgr, log, clonerImage, pullPolicy, installerLabels, tokenPublicKey); err != nil {
		klog.Errorf("Unable to setup clone populator: %v", err)
		os.Exit(1)
	}
	if _, err := populators.NewForkliftPopulator(ctx, mgr, log, importerImage, ovirtPopulatorImage, installerLabels); err != nil {
		klog.Errorf("Unable to setup forklift populator: %v", err)
		os.Exit(1)
	}

	managedTLSWatcher.SetCache(mgr.GetCache())
	if err := mgr.Add(managedTLSWatcher); err != nil {
		log.Error(err, "unable to add watcher to manager")
		os.Exit(1)
	}

	klog.V(1).Infoln("created cdi controllers")

	if err := mgr.Start(ctx); err != nil {
		klog.Errorf("Error running manager: %v", err)
		os.Exit(1)
	}
}

func main() {
	defer klog.Flush()
	parseFlags()
	debug := false
	verbosityLevel, err := strconv.Atoi(verbose)
	if err == nil && verbosityLevel > 1 {
		debug = true
	}

	logf.SetLogger(zap.New(zap.Level(zapcore.Level(-1*verbosityLevel)), zap.UseDevMode(debug)))
	logf.Log.WithName("main").Info("Verbosity level", "verbose", verbose, "debug", debug)

	if err = createReadyFile(); err != nil {
		klog.Fatalf("Error creating ready file: %+v", err)
	}

	start()

	deleteReadyFile()

	klog.V(2).Infoln("cdi controller exited")
}

func createReadyFile() error {
	if readyFile == "" {
		return nil
	}
	f, err := os.Create(readyFile)
	if err != nil {
		return err
	}
	defer f.Close()
	return nil
}

func deleteReadyFile() {
	if readyFile != "" {
		os.Remove(readyFile)
	}
}

// loadTokenKeys reads the clone-token key pair, as CDI's getTokenPublicKey/getTokenPrivateKey
// do from the files, or from --token-key-secret (keys id_rsa, id_rsa.pub), waiting until
// cdi-apiserver has created it.
func loadTokenKeys(ctx context.Context, k8sClient kubernetes.Interface, namespace string) {
	var publicBytes, privateBytes []byte
	if tokenKeySecret == "" {
		var err error
		if publicBytes, err = os.ReadFile(filepath.Join(tokenKeyDir, keys.KeyStorePublicKeyFile)); err != nil {
			klog.Fatalf("Error reading apiserver public key: %v", err)
		}
		if privateBytes, err = os.ReadFile(filepath.Join(tokenKeyDir, keys.KeyStorePrivateKeyFile)); err != nil {
			klog.Fatalf("Error reading private key: %v", err)
		}
	} else {
		err := wait.PollUntilContextCancel(ctx, 2*time.Second, true, func(ctx context.Context) (bool, error) {
			secret, err := k8sClient.CoreV1().Secrets(namespace).Get(ctx, tokenKeySecret, metav1.GetOptions{})
			if k8serrors.IsNotFound(err) {
				klog.Infof("Waiting for Secret %s/%s (cdi-apiserver creates it)", namespace, tokenKeySecret)
				return false, nil
			}
			if err != nil {
				return false, err
			}
			publicBytes = secret.Data[keys.KeyStorePublicKeyFile]
			privateBytes = secret.Data[keys.KeyStorePrivateKeyFile]
			return true, nil
		})
		if err != nil {
			klog.Fatalf("Error reading Secret %s/%s: %v", namespace, tokenKeySecret, err)
		}
	}

	publicKey, err := controller.DecodePublicKey(publicBytes)
	if err != nil {
		klog.Fatalf("Error decoding public key")
	}
	tokenPublicKey = publicKey

	obj, err := cert.ParsePrivateKeyPEM(privateBytes)
	if err != nil {
		klog.Fatalf("Error decoding private key")
	}
	privateKey, ok := obj.(*rsa.PrivateKey)
	if !ok {
		klog.Fatalf("Invalid private key format")
	}
	tokenPrivateKey = privateKey
}

// Restricts some types in the cache's ListWatch to specific fields/labels per GVK at the specified object,
// other types will continue working normally.
// Note: objects you read once with the controller runtime client are cached.
// TODO: Make our watches way more specific using labels, for example,
// at the point of writing this, we don't care about VolumeSnapshots without the CDI label
func getCacheOptions(apiClient client.Client, cdiNamespace string) cache.Options {
	namespaceSelector := fields.Set{"metadata.namespace": cdiNamespace}.AsSelector()

	cacheOptions := cache.Options{
		ByObject: map[client.Object]cache.ByObject{
			&networkingv1.Ingress{}: {
				Field: namespaceSelector,
			},
			&batchv1.CronJob{}: {
				Field: namespaceSelector,
			},
			&batchv1.Job{}: {
				Field: namespaceSelector,
			},
			&v1.ConfigMap{}: {
				Field: namespaceSelector,
			},
			&v1.Secret{}: {
				Field: namespaceSelector,
			},
		},
	}

	cacheOptionsByObjectForOpenshift := map[client.Object]cache.ByObject{
		&routev1.Route{}: {
			Field: namespaceSelector,
		},
	}

	// Currently controller-runtime will fail if types in here are not installed in the cluster
	// https://github.com/kubernetes-sigs/controller-runtime/issues/2456
	if isOpenShift(apiClient) {
		for k, v := range cacheOptionsByObjectForOpenshift {
			cacheOptions.ByObject[k] = v
		}
	}

	return cacheOptions
}

func isOpenShift(apiClient client.Client) bool {
	clusterVersion := &ocpconfigv1.ClusterVersion{
		ObjectMeta: metav1.ObjectMeta{
			Name: "version",
		},
	}
	if err := apiClient.Get(context.TODO(), client.ObjectKeyFromObject(clusterVersion), clusterVersion); err != nil {
		if !meta.IsNoMatchError(err) {
			klog.Errorf("Error getting clusterVersion: %v", err)
			os.Exit(1)
		}
		return false
	}

	return true
}
